-- $1 quarter end, $2 provider or NULL, $3 the categories that count as placed:
-- people reached (entered by then; for a provider: a module started there by then),
-- placed (a placement in those categories started by then; for a provider: recorded by
-- it), exited by then, and placed among those exited
SELECT count(*) AS reached,
       count(*) FILTER (WHERE f.first_placement IS NOT NULL) AS placed,
       count(*) FILTER (WHERE x.exit_date <= $1) AS exited,
       count(*) FILTER (WHERE x.exit_date <= $1 AND f.first_placement IS NOT NULL) AS placed_exited
FROM participants AS p
LEFT JOIN exits AS x USING (participant_id)
LEFT JOIN LATERAL (
    SELECT min(l.start_date) AS first_placement FROM placements AS l
    WHERE l.participant_id = p.participant_id AND l.start_date <= $1
      AND l.category = ANY($3::text[]) AND ($2::text IS NULL OR l.provider = $2)
) AS f ON true
WHERE p.entry_date <= $1
  AND ($2::text IS NULL OR EXISTS (
      SELECT 1 FROM module_participations AS s
      WHERE s.participant_id = p.participant_id AND s.provider = $2 AND s.started_on <= $1
  ))
