-- $1 participant_id, $2 erased_on, $3 basis: the erasure's record, without content
INSERT INTO erasures (participant_id, erased_on, basis)
VALUES ($1, $2, $3)
ON CONFLICT (participant_id) DO NOTHING
