-- $1 participant_id, $2 category: the newest placement is the current status
UPDATE participants SET current_placement = $2 WHERE participant_id = $1
