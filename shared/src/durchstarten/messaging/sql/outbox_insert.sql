-- $1 topic, $2 key, $3 value, $4 headers (jsonb list of [name, value] pairs)
INSERT INTO outbox (topic, message_key, value, headers) VALUES ($1, $2, $3, $4)
