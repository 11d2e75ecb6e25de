-- $1 consumer, $2 message id: returns a row only the first time
INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING message_id
