-- One relay per database publishes at a time, so rows leave in seq order even with several
-- service instances (SKIP LOCKED alone would let two instances reorder one person's events).
SELECT pg_try_advisory_xact_lock(7310523)
