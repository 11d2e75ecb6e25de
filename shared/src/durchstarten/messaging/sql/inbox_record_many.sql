-- $1 consumer, $2 message ids: returns the ids seen for the first time
INSERT INTO processed_messages (consumer, message_id)
SELECT $1, id FROM unnest($2::text[]) AS id
ON CONFLICT DO NOTHING
RETURNING message_id
