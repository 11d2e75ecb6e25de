-- $1 a digest's lock key, taken by `pattern_try_lock` in this session
SELECT pg_advisory_unlock($1)
