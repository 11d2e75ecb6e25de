-- $1 topic, $2 key, $3 value, $4 headers (jsonb list of [name, value] pairs).
-- One round trip: the row, and the notification that wakes the relay (delivered at
-- commit, so the relay wakes only for rows it can see).
WITH added AS (
    INSERT INTO outbox (topic, message_key, value, headers) VALUES ($1, $2, $3, $4)
    RETURNING seq
)
SELECT pg_notify('outbox', '') FROM added
