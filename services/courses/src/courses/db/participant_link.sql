-- $1 participant_id, $2 provider: the provider may now enrol the person (erased ones stay out)
INSERT INTO participant_providers (participant_id, provider)
SELECT $1, $2
WHERE NOT EXISTS (SELECT 1 FROM erased_participants WHERE participant_id = $1)
ON CONFLICT DO NOTHING
