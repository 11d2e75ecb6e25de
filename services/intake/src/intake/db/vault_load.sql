-- $1 participant ids: their ciphertexts (the keys are in the key store)
SELECT participant_id, nonce, ciphertext FROM identities
WHERE participant_id = ANY($1::uuid[])
