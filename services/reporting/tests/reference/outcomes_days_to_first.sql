-- $1 quarter start, $2 quarter end, $3 provider or NULL, $4 the categories that count as
-- placed: days from entry to the first placement, for people whose first placement (by the
-- provider, when scoped) started in the quarter
SELECT f.first_placement - p.entry_date AS days
FROM participants AS p
JOIN LATERAL (
    SELECT min(l.start_date) AS first_placement FROM placements AS l
    WHERE l.participant_id = p.participant_id AND l.category = ANY($4::text[])
      AND ($3::text IS NULL OR l.provider = $3)
) AS f ON f.first_placement BETWEEN $1 AND $2
