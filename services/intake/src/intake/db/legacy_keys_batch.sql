-- $1 batch size: keys the first versions kept in intake's own database, locked to move them
SELECT participant_id, key_id, wrapped_key FROM legacy_participant_keys
ORDER BY participant_id LIMIT $1 FOR UPDATE
