-- $1 as-of date, $2 provider (null: every provider): scheduled, due, and not yet recorded;
-- a follow-up belongs to the providers of the participant's cases
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
ORDER BY t.due_on, t.participant_id
