-- $1 quarter start, $2 quarter end, $3 provider or NULL: placements starting in the
-- quarter, by site
SELECT l.site, count(*) AS placements
FROM placements AS l JOIN participants AS p USING (participant_id)
WHERE l.start_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR l.provider = $3)
GROUP BY l.site
