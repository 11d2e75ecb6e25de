-- $1 a digest's lock key: true when this session now chooses its pattern (never waits)
SELECT pg_try_advisory_lock($1)
