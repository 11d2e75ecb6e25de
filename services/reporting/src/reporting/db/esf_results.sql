-- For people exited in the period, the last follow-up per ESF+ window (category and
-- employment kind), NULL where none was recorded; for every period and scope at once. $1
-- period starts, $2 period ends (inclusive), $3 scopes (NULL: the county; else a provider,
-- whose scope is the people with a module participation there).
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
), exited AS (
    SELECT q.period_start, q.period_end, s.scope, p.participant_id
    FROM members AS s
    JOIN participants AS p USING (participant_id)
    JOIN exits AS x USING (participant_id)
    JOIN periods AS q ON x.exit_date BETWEEN q.period_start AND q.period_end
), windows (follow_up_window) AS (
    VALUES ('4-weeks'), ('6-months')
), last_observation AS (
    -- a person's last follow-up per window does not depend on the period or the scope
    SELECT DISTINCT ON (f.participant_id, f.follow_up_window)
           f.participant_id, f.follow_up_window, f.category, f.employment_kind
    FROM follow_ups AS f
    WHERE f.participant_id IN (SELECT participant_id FROM exited)
    ORDER BY f.participant_id, f.follow_up_window, f.observed_on DESC
)
SELECT e.period_start, e.period_end, e.scope,
       w.follow_up_window, l.category, l.employment_kind, count(*) AS people
FROM exited AS e
CROSS JOIN windows AS w
LEFT JOIN last_observation AS l
       ON l.participant_id = e.participant_id AND l.follow_up_window = w.follow_up_window
GROUP BY 1, 2, 3, 4, 5, 6
