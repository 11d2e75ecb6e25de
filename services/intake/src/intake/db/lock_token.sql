-- $1 a blocking token's first 8 bytes as a bigint
SELECT pg_advisory_xact_lock($1)
