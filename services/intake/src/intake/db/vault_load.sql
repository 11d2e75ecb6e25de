-- $1 participant ids
SELECT i.participant_id, k.key_id, k.wrapped_key, i.nonce, i.ciphertext
FROM identities AS i JOIN participant_keys AS k USING (participant_id)
WHERE i.participant_id = ANY($1::uuid[])
