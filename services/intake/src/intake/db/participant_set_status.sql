-- $1 participant_id, $2 status
UPDATE participants SET status = $2, pending_event = NULL WHERE participant_id = $1
