-- Entries, exits and caseload at period end per municipality, for every period and scope at
-- once. $1 period starts, $2 period ends (inclusive), $3 scopes (NULL: the county; else a
-- provider, whose scope is the people with a module participation there). Confirmed
-- duplicates and erased people are gone from `participants`. A person meets only the
-- periods they count in (the join's condition is the FILTERs' disjunction), so the scan
-- grows with how long people stay, not with the number of periods times people.
WITH periods AS (
    SELECT * FROM unnest($1::date[], $2::date[]) AS t (period_start, period_end)
), scopes AS (
    SELECT DISTINCT unnest($3::text[]) AS scope
), members AS (
    SELECT NULL::text AS scope, participant_id FROM participants
    WHERE EXISTS (SELECT 1 FROM scopes WHERE scope IS NULL)
    UNION ALL
    SELECT DISTINCT m.provider, m.participant_id
    FROM module_participations AS m JOIN scopes AS s ON s.scope = m.provider
)
SELECT q.period_start, q.period_end, s.scope, p.municipality,
       count(*) FILTER (WHERE p.entry_date BETWEEN q.period_start AND q.period_end) AS entries,
       count(*) FILTER (WHERE x.exit_date BETWEEN q.period_start AND q.period_end) AS exits,
       count(*) FILTER (
           WHERE p.entry_date <= q.period_end
             AND (x.exit_date IS NULL OR x.exit_date > q.period_end)
       ) AS caseload
FROM members AS s
JOIN participants AS p USING (participant_id)
LEFT JOIN exits AS x USING (participant_id)
JOIN periods AS q
  ON p.entry_date BETWEEN q.period_start AND q.period_end
  OR x.exit_date BETWEEN q.period_start AND q.period_end
  OR (p.entry_date <= q.period_end AND (x.exit_date IS NULL OR x.exit_date > q.period_end))
GROUP BY q.period_start, q.period_end, s.scope, p.municipality
