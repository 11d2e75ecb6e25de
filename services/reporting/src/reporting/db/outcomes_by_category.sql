-- Placements starting in the period, by category and provider, for every period and scope
-- at once. $1 period starts, $2 period ends (inclusive), $3 scopes (NULL: the county; else
-- a provider: its placements).
WITH periods AS (
    SELECT * FROM unnest($1::date[], $2::date[]) AS t (period_start, period_end)
), scopes AS (
    SELECT DISTINCT unnest($3::text[]) AS scope
)
SELECT q.period_start, q.period_end, s.scope, l.category, l.provider, count(*) AS placements,
       count(*) FILTER (WHERE l.employment_kind = 'marginal') AS marginal
FROM placements AS l
JOIN participants AS p USING (participant_id)
JOIN scopes AS s ON s.scope IS NULL OR s.scope = l.provider
JOIN periods AS q ON l.start_date BETWEEN q.period_start AND q.period_end
GROUP BY q.period_start, q.period_end, s.scope, l.category, l.provider
