-- $1 quarter start, $2 quarter end, $3 provider or NULL: people starting a module in the
-- quarter, and people in a module at quarter end (started by then, not exited by then)
SELECT m.module,
       count(DISTINCT m.participant_id) FILTER (WHERE m.started_on BETWEEN $1 AND $2) AS entries,
       count(DISTINCT m.participant_id) FILTER (
           WHERE m.started_on <= $2 AND (x.exit_date IS NULL OR x.exit_date > $2)
       ) AS caseload
FROM module_participations AS m
JOIN participants AS p USING (participant_id)
LEFT JOIN exits AS x USING (participant_id)
WHERE $3::text IS NULL OR m.provider = $3
GROUP BY m.module
