-- $1 participant ids, $2 their master key ids, $3 their wrapped keys (same order). A key
-- already stored stays: a command carried out again must not replace the key its ciphertext
-- was sealed with.
INSERT INTO participant_keys (participant_id, key_id, wrapped_key)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[])
ON CONFLICT (participant_id) DO NOTHING
