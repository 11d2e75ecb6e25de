-- $1 batch size
SELECT seq, topic, message_key, value, headers
FROM outbox
WHERE published_at IS NULL
ORDER BY seq
LIMIT $1
FOR UPDATE SKIP LOCKED
