-- $1 today, $2 period after exit, $3 period without exit (after entry), as PostgreSQL
-- intervals ('3 years'; NULL: kept forever in that case), $4 how many: registrations past
-- their deletion date and under no legal hold, locked (others running the schedule skip
-- them). Calendar years, as the person's record shows the date.
SELECT participant_id
FROM participants AS p
WHERE status IN ('registered', 'pending-exception')
  AND CASE WHEN p.exit_date IS NOT NULL THEN p.exit_date + $2::text::interval
           ELSE p.entry_date + $3::text::interval END <= $1::date
  AND NOT EXISTS (
      SELECT 1 FROM legal_holds AS h
      WHERE h.participant_id = p.participant_id AND h.released_at IS NULL
  )
ORDER BY participant_id
LIMIT $4
FOR UPDATE SKIP LOCKED
