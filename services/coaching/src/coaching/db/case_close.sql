-- $1 case_id, $2 closed_on, $3 reason
UPDATE cases SET closed_on = $2, close_reason = $3 WHERE case_id = $1
