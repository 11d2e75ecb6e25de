-- $1 participant_id, $2 entry_date, $3 employment_ban (erased ones stay out)
INSERT INTO participants (participant_id, entry_date, employment_ban)
SELECT $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM erased_participants WHERE participant_id = $1)
ON CONFLICT (participant_id) DO NOTHING
