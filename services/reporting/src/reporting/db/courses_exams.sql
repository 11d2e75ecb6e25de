-- Exam results by overall level, for every period and scope at once. $1 period
-- starts, $2 period ends (inclusive), $3 scopes (NULL: the county; else a provider).
WITH periods AS (
    SELECT * FROM unnest($1::date[], $2::date[]) AS t (period_start, period_end)
), scopes AS (
    SELECT DISTINCT unnest($3::text[]) AS scope
)
SELECT q.period_start, q.period_end, s.scope, overall, count(*) AS results
FROM exam_results AS f
JOIN scopes AS s ON s.scope IS NULL OR s.scope = f.provider
JOIN periods AS q ON f.exam_date BETWEEN q.period_start AND q.period_end
GROUP BY q.period_start, q.period_end, s.scope, overall
