-- $1 participant_id, $2 nonce, $3 ciphertext: the corrected identity, under the same key;
-- the blind index is rebuilt from the corrected names (index_store), both kinds of token
WITH gone AS (DELETE FROM identity_index WHERE participant_id = $1)
UPDATE identities SET nonce = $2, ciphertext = $3, index_generation = 2 WHERE participant_id = $1
