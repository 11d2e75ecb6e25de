-- $1 participant_id
SELECT key_id, wrapped_key FROM participant_keys WHERE participant_id = $1
