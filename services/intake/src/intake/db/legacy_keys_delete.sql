-- $1 participant ids whose keys are now in the key store
DELETE FROM legacy_participant_keys WHERE participant_id = ANY($1::uuid[])
