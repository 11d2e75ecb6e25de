-- $1 participant_id: the hold in force, if any
SELECT hold_id, reason_encrypted, set_by, set_at
FROM legal_holds
WHERE participant_id = $1 AND released_at IS NULL
