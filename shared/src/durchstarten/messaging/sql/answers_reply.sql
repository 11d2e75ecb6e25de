-- $1 consumer, $2 dedupe key, $3 participant (or NULL), $4 the reply as sent
UPDATE command_answers SET participant_id = $3, reply = $4
WHERE consumer = $1 AND dedupe_key = $2
