-- $1 as-of date, $2 provider (null: every provider): scheduled, due, and not yet recorded;
-- a follow-up belongs to the providers of the participant's cases. A page of at most $6
-- rows after the key ($3 due_on, $4 participant_id, $5 time_window), from the start when null
SELECT t.participant_id, t.time_window, t.due_on, p.exit_date
FROM follow_up_tasks AS t
JOIN participants AS p USING (participant_id)
WHERE t.due_on <= $1
  AND NOT EXISTS (
      SELECT 1 FROM follow_ups AS f
      WHERE f.participant_id = t.participant_id AND f.time_window = t.time_window
  )
  AND ($2::text IS NULL OR EXISTS (
      SELECT 1 FROM cases AS c WHERE c.participant_id = t.participant_id AND c.provider = $2
  ))
  AND ($3::date IS NULL OR (t.due_on, t.participant_id, t.time_window) > ($3, $4::uuid, $5::text))
ORDER BY t.due_on, t.participant_id, t.time_window
LIMIT $6::integer
