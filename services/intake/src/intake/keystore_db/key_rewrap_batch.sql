-- $1 the current master key id, $2 batch size: keys still wrapped by another, locked so two
-- rotations at once share the work instead of doing it twice.
SELECT participant_id, key_id, wrapped_key FROM participant_keys
WHERE key_id <> $1
ORDER BY participant_id
LIMIT $2
FOR UPDATE SKIP LOCKED
