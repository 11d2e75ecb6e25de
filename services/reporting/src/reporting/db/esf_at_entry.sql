-- People entering in the period, grouped by the ESF+ common categories that the
-- registration carries, for every period and scope at once. $1 period starts, $2 period
-- ends (inclusive), $3 scopes (NULL: the county; else a provider, whose scope is the
-- people with a module participation there).
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
SELECT q.period_start, q.period_end, s.scope,
       p.sex,
       CASE WHEN p.age_at_entry < 18 THEN 'under-18'
            WHEN p.age_at_entry <= 29 THEN '18-29'
            WHEN p.age_at_entry <= 54 THEN '30-54'
            ELSE '55-and-over' END AS age_band,
       p.school_education,
       p.country_of_origin,
       count(*) AS people
FROM members AS s
JOIN participants AS p USING (participant_id)
JOIN periods AS q ON p.entry_date BETWEEN q.period_start AND q.period_end
GROUP BY 1, 2, 3, 4, 5, 6, 7
