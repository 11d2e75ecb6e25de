-- $1 participant_id, $2 wrapped key, $3 nonce, $4 ciphertext
WITH k AS (INSERT INTO participant_keys (participant_id, wrapped_key) VALUES ($1, $2))
INSERT INTO identities (participant_id, nonce, ciphertext) VALUES ($1, $3, $4)
