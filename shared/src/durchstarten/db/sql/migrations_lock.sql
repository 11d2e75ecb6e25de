-- $1 lock id: one migrating instance per database at a time
SELECT pg_advisory_lock($1)
