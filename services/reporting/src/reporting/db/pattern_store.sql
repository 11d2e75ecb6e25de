-- $1 digest, $2 pattern, $3 seconds it took to choose, $4 how many patterns to keep: store
-- it (a concurrent equal one wins, both are the same) and drop all but the newest $4
WITH stored AS (
    INSERT INTO release_patterns (digest, pattern, seconds) VALUES ($1, $2, $3)
    ON CONFLICT (digest) DO NOTHING
)
DELETE FROM release_patterns
WHERE digest NOT IN (
    SELECT digest FROM release_patterns ORDER BY chosen_at DESC, digest LIMIT $4 - 1
) AND digest <> $1
