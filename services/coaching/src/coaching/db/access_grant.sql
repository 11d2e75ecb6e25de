-- $1 participant_id, $2 provider: kept even before the registration arrives; erased ones
-- stay out
INSERT INTO participant_access (participant_id, provider)
SELECT $1, $2
WHERE NOT EXISTS (SELECT 1 FROM erased_participants WHERE participant_id = $1)
ON CONFLICT DO NOTHING
