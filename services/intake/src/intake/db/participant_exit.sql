-- $1 participant_id, $2 exit_date, $3 reason
UPDATE participants SET exit_date = $2, exit_reason = $3 WHERE participant_id = $1
