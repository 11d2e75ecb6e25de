-- $1 participant_id
SELECT wrapped_key FROM participant_keys WHERE participant_id = $1
