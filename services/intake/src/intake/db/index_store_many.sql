-- $1 participant ids, $2 tokens (pairwise), $3 the identities now indexed in full
WITH added AS (
    INSERT INTO identity_index (participant_id, token)
    SELECT participant_id, token FROM unnest($1::uuid[], $2::bytea[]) AS given (participant_id, token)
    ON CONFLICT DO NOTHING
)
UPDATE identities SET index_generation = 2 WHERE participant_id = ANY($3::uuid[])
