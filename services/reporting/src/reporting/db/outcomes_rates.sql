-- $1 quarter end: people reached (entered by then), placed (a placement started by then),
-- exited by then, and placed among those exited
SELECT count(*) AS reached,
       count(*) FILTER (WHERE f.first_placement IS NOT NULL) AS placed,
       count(*) FILTER (WHERE x.exit_date <= $1) AS exited,
       count(*) FILTER (WHERE x.exit_date <= $1 AND f.first_placement IS NOT NULL) AS placed_exited
FROM participants AS p
LEFT JOIN exits AS x USING (participant_id)
LEFT JOIN LATERAL (
    SELECT min(l.start_date) AS first_placement FROM placements AS l
    WHERE l.participant_id = p.participant_id AND l.start_date <= $1
) AS f ON true
WHERE p.entry_date <= $1
