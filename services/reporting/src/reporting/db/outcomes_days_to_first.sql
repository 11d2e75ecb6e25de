-- Days from entry to the first placement, for people whose first placement that counts
-- (by the provider, when scoped) started in the period; one row per person, for every
-- period and scope at once. $1 period starts, $2 period ends (inclusive), $3 scopes (NULL:
-- the county), $4 the categories that count as placed.
WITH periods AS (
    SELECT * FROM unnest($1::date[], $2::date[]) AS t (period_start, period_end)
), scopes AS (
    SELECT DISTINCT unnest($3::text[]) AS scope
), firsts AS (
    SELECT NULL::text AS scope, participant_id, min(start_date) AS first_on FROM placements
    WHERE category = ANY($4::text[]) AND EXISTS (SELECT 1 FROM scopes WHERE scope IS NULL)
    GROUP BY participant_id
    UNION ALL
    SELECT l.provider, l.participant_id, min(l.start_date)
    FROM placements AS l JOIN scopes AS s ON s.scope = l.provider
    WHERE l.category = ANY($4::text[])
    GROUP BY l.provider, l.participant_id
)
SELECT q.period_start, q.period_end, f.scope, f.first_on - p.entry_date AS days
FROM firsts AS f
JOIN participants AS p USING (participant_id)
JOIN periods AS q ON f.first_on BETWEEN q.period_start AND q.period_end
