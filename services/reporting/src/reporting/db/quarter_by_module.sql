-- People starting a module in the period, and people in a module at period end (started
-- by then, not exited by then), for every period and scope at once. $1 period starts,
-- $2 period ends (inclusive), $3 scopes (NULL: the county; else a provider: its module
-- participations).
WITH periods AS (
    SELECT * FROM unnest($1::date[], $2::date[]) AS t (period_start, period_end)
), scopes AS (
    SELECT DISTINCT unnest($3::text[]) AS scope
)
SELECT q.period_start, q.period_end, s.scope, m.module,
       count(DISTINCT m.participant_id) FILTER (
           WHERE m.started_on BETWEEN q.period_start AND q.period_end
       ) AS entries,
       count(DISTINCT m.participant_id) FILTER (
           WHERE m.started_on <= q.period_end
             AND (x.exit_date IS NULL OR x.exit_date > q.period_end)
       ) AS caseload
FROM module_participations AS m
JOIN participants AS p USING (participant_id)
LEFT JOIN exits AS x USING (participant_id)
JOIN scopes AS s ON s.scope IS NULL OR s.scope = m.provider
JOIN periods AS q
  ON m.started_on <= q.period_end
 AND (m.started_on >= q.period_start OR x.exit_date IS NULL OR x.exit_date > q.period_end)
GROUP BY q.period_start, q.period_end, s.scope, m.module
