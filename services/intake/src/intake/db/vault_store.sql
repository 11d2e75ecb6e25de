-- $1 participant_id, $2 master key id, $3 wrapped key, $4 nonce, $5 ciphertext
WITH k AS (
    INSERT INTO participant_keys (participant_id, key_id, wrapped_key) VALUES ($1, $2, $3)
)
INSERT INTO identities (participant_id, nonce, ciphertext) VALUES ($1, $4, $5)
