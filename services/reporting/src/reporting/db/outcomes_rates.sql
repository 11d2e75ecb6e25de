-- For every period end and scope at once ($1 period starts, unused; $2 period ends; $3
-- scopes, NULL: the county; $4 the categories that count as placed): people reached
-- (entered by then; for a provider: a module started there by then), placed (a placement
-- in those categories started by then; for a provider: recorded by it), exited by then,
-- and placed among those exited. A period and scope without anyone reached has no row.
WITH periods AS (
    SELECT * FROM unnest($1::date[], $2::date[]) AS t (period_start, period_end)
), scopes AS (
    SELECT DISTINCT unnest($3::text[]) AS scope
), members AS (
    -- since: when the person joined the scope (NULL for the county: their entry counts)
    SELECT NULL::text AS scope, participant_id, NULL::date AS since FROM participants
    WHERE EXISTS (SELECT 1 FROM scopes WHERE scope IS NULL)
    UNION ALL
    SELECT m.provider, m.participant_id, min(m.started_on)
    FROM module_participations AS m JOIN scopes AS s ON s.scope = m.provider
    GROUP BY m.provider, m.participant_id
), firsts AS (
    -- each person's first placement that counts, overall and per provider
    SELECT '' AS scope, participant_id, min(start_date) AS first_on FROM placements
    WHERE category = ANY($4::text[]) AND EXISTS (SELECT 1 FROM scopes WHERE scope IS NULL)
    GROUP BY participant_id
    UNION ALL
    SELECT l.provider, l.participant_id, min(l.start_date)
    FROM placements AS l JOIN scopes AS s ON s.scope = l.provider
    WHERE l.category = ANY($4::text[])
    GROUP BY l.provider, l.participant_id
)
SELECT q.period_start, q.period_end, s.scope,
       count(*) AS reached,
       count(*) FILTER (WHERE f.first_on <= q.period_end) AS placed,
       count(*) FILTER (WHERE x.exit_date <= q.period_end) AS exited,
       count(*) FILTER (
           WHERE x.exit_date <= q.period_end AND f.first_on <= q.period_end
       ) AS placed_exited
FROM members AS s
JOIN participants AS p USING (participant_id)
LEFT JOIN exits AS x USING (participant_id)
-- '' stands for the county: provider ids are never empty, and an equality joins by hash
LEFT JOIN firsts AS f ON f.participant_id = s.participant_id AND f.scope = coalesce(s.scope, '')
JOIN periods AS q
  ON p.entry_date <= q.period_end AND (s.since IS NULL OR s.since <= q.period_end)
GROUP BY q.period_start, q.period_end, s.scope
