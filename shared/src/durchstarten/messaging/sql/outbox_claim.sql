-- $1 batch size: the oldest rows neither sent nor parked
SELECT seq, topic, message_key, value, headers, attempts
FROM outbox
WHERE published_at IS NULL AND parked_at IS NULL
ORDER BY seq
LIMIT $1
FOR UPDATE SKIP LOCKED
