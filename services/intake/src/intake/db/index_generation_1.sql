-- $1 batch size: identities indexed by name only (before birth years were), locked
SELECT participant_id FROM identities WHERE index_generation = 1
ORDER BY participant_id LIMIT $1 FOR UPDATE
