-- $1 participant_id, $2 provider, $3 entry_date: known from intake; erased ones stay out
WITH p AS (
    INSERT INTO participants (participant_id, provider, entry_date)
    SELECT $1, $2, $3
    WHERE NOT EXISTS (SELECT 1 FROM erased_participants WHERE participant_id = $1)
    ON CONFLICT (participant_id) DO NOTHING
    RETURNING participant_id
)
INSERT INTO participant_access (participant_id, provider)
SELECT participant_id, $2 FROM p
ON CONFLICT DO NOTHING
