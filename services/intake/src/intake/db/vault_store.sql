-- $1 participant_id, $2 nonce, $3 ciphertext (the key is in the key store)
INSERT INTO identities (participant_id, nonce, ciphertext) VALUES ($1, $2, $3)
