-- $1 year, $2 provider or NULL: for people exited in the year, the last follow-up per ESF+
-- window (category and employment kind), NULL where none was recorded
WITH exited AS (
    SELECT p.participant_id
    FROM participants AS p JOIN exits AS x USING (participant_id)
    WHERE extract(year FROM x.exit_date) = $1
      AND ($2::text IS NULL OR EXISTS (
          SELECT 1 FROM module_participations AS s
          WHERE s.participant_id = p.participant_id AND s.provider = $2
      ))
), windows (follow_up_window) AS (
    VALUES ('4-weeks'), ('6-months')
), last_observation AS (
    SELECT DISTINCT ON (f.participant_id, f.follow_up_window)
           f.participant_id, f.follow_up_window, f.category, f.employment_kind
    FROM follow_ups AS f JOIN exited AS e USING (participant_id)
    ORDER BY f.participant_id, f.follow_up_window, f.observed_on DESC
)
SELECT w.follow_up_window, l.category, l.employment_kind, count(*) AS people
FROM exited AS e
CROSS JOIN windows AS w
LEFT JOIN last_observation AS l
       ON l.participant_id = e.participant_id AND l.follow_up_window = w.follow_up_window
GROUP BY 1, 2, 3
