-- $1 participant_id, $2 released_by: the hold in force ends (none: nothing to release)
UPDATE legal_holds
SET released_by = $2, released_at = now()
WHERE participant_id = $1 AND released_at IS NULL
RETURNING hold_id, released_at
