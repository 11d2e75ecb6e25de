-- $1 participant_id, $2 exit_date: record it and schedule the ESF+ follow-ups
WITH p AS (
    UPDATE participants SET exit_date = $2 WHERE participant_id = $1 RETURNING participant_id
)
INSERT INTO follow_up_tasks (participant_id, time_window, due_on)
SELECT participant_id, w.time_window, $2 + w.days
FROM p, (VALUES ('4-weeks', 28), ('6-months', 182)) AS w (time_window, days)
ON CONFLICT DO NOTHING
