-- Delivered at commit, so the relay wakes only for rows it can see.
SELECT pg_notify('outbox', '')
