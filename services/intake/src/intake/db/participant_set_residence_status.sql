-- $1 participant_id, $2 status
UPDATE participants SET residence_status = $2 WHERE participant_id = $1
