-- $1 quarter start, $2 quarter end (inclusive): entries, exits and caseload at quarter end
-- per municipality; confirmed duplicates and erased people are gone from `participants`
SELECT p.municipality,
       count(*) FILTER (WHERE p.entry_date BETWEEN $1 AND $2) AS entries,
       count(*) FILTER (WHERE x.exit_date BETWEEN $1 AND $2) AS exits,
       count(*) FILTER (
           WHERE p.entry_date <= $2 AND (x.exit_date IS NULL OR x.exit_date > $2)
       ) AS caseload
FROM participants AS p LEFT JOIN exits AS x USING (participant_id)
GROUP BY p.municipality
