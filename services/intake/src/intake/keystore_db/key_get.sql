-- $1 participant ids
SELECT participant_id, key_id, wrapped_key FROM participant_keys
WHERE participant_id = ANY($1::uuid[])
