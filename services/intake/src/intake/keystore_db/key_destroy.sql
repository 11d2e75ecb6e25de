-- $1 participant ids: their keys are destroyed (crypto-shredding)
DELETE FROM participant_keys WHERE participant_id = ANY($1::uuid[])
