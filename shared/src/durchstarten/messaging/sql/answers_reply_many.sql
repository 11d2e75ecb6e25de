-- $1 consumers, $2 dedupe keys, $3 participants (or NULL), $4 replies as sent (JSON text):
-- the answers of a batch's commands, kept in one statement
UPDATE command_answers AS kept
SET participant_id = given.participant_id, reply = given.reply::jsonb
FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[])
    AS given (consumer, dedupe_key, participant_id, reply)
WHERE kept.consumer = given.consumer AND kept.dedupe_key = given.dedupe_key
