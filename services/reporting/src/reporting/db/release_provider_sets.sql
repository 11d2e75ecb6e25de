-- Every set of providers some counted person has a module participation with (a person
-- with none: the empty set), and every provider the projection names anywhere: the
-- release's scopes are these and the configured ones
WITH sets AS (
    SELECT DISTINCT coalesce(
        array_agg(DISTINCT m.provider ORDER BY m.provider)
            FILTER (WHERE m.provider IS NOT NULL),
        '{}'
    ) AS providers
    FROM participants AS p
    LEFT JOIN module_participations AS m USING (participant_id)
    GROUP BY p.participant_id
)
SELECT providers FROM sets
