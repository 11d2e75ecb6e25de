-- $1 quarter start, $2 quarter end: days from entry to the first placement, for people whose
-- first placement started in the quarter
SELECT f.first_placement - p.entry_date AS days
FROM participants AS p
JOIN LATERAL (
    SELECT min(l.start_date) AS first_placement FROM placements AS l
    WHERE l.participant_id = p.participant_id
) AS f ON f.first_placement BETWEEN $1 AND $2
