-- One appender at a time, so every row links to the one before it.
SELECT pg_advisory_xact_lock(7310524)
