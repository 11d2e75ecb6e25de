-- $1 quarter start, $2 quarter end (inclusive), $3 provider or NULL for the county:
-- entries, exits and caseload at quarter end per municipality; confirmed duplicates and
-- erased people are gone from `participants`. A provider's scope is the people with a
-- module participation at that provider.
SELECT p.municipality,
       count(*) FILTER (WHERE p.entry_date BETWEEN $1 AND $2) AS entries,
       count(*) FILTER (WHERE x.exit_date BETWEEN $1 AND $2) AS exits,
       count(*) FILTER (
           WHERE p.entry_date <= $2 AND (x.exit_date IS NULL OR x.exit_date > $2)
       ) AS caseload
FROM participants AS p LEFT JOIN exits AS x USING (participant_id)
WHERE $3::text IS NULL OR EXISTS (
    SELECT 1 FROM module_participations AS s
    WHERE s.participant_id = p.participant_id AND s.provider = $3
)
GROUP BY p.municipality
