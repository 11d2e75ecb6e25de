-- $1 today, $2 period after exit, $3 period without exit (after entry), $4 how many:
-- registrations whose identifiers are past their deletion date and under no legal hold,
-- locked (others running the schedule skip them).
SELECT participant_id
FROM participants AS p
WHERE status IN ('registered', 'pending-exception')
  AND coalesce(p.exit_date + $2::interval, p.entry_date + $3::interval) <= $1::date
  AND NOT EXISTS (
      SELECT 1 FROM legal_holds AS h
      WHERE h.participant_id = p.participant_id AND h.released_at IS NULL
  )
ORDER BY participant_id
LIMIT $4
FOR UPDATE SKIP LOCKED
