-- $1 participant_id, $2 tokens
INSERT INTO identity_index (participant_id, token)
SELECT $1, token FROM unnest($2::bytea[]) AS token
ON CONFLICT DO NOTHING
