-- $1 lock keys (each a blocking token's first 8 bytes as a bigint), ascending: taken in
-- that order, each held until the transaction ends
SELECT count(pg_advisory_xact_lock(key))
FROM (SELECT key FROM unnest($1::bigint[]) WITH ORDINALITY AS given (key, n) ORDER BY n) AS ordered
