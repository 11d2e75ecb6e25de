-- $1 after hold_id (NULL: from the start), $2 how many, $3 the coordinator's county (NULL:
-- every county): holds in force, oldest first, for review (without their sealed reasons)
SELECT h.hold_id, h.participant_id, h.set_by, h.set_at
FROM legal_holds AS h JOIN participants AS p USING (participant_id)
WHERE h.released_at IS NULL AND ($1::bigint IS NULL OR h.hold_id > $1)
  AND ($3::text IS NULL OR p.county = $3)
ORDER BY h.hold_id
LIMIT $2
