-- $1 course_id, $2 participant_id, $3 status, $4 day, $5 drop reason
UPDATE enrolments
SET status = $3,
    enrolled_on = CASE WHEN $3 = 'enrolled' THEN $4 ELSE enrolled_on END,
    completed_on = CASE WHEN $3 = 'completed' THEN $4 ELSE completed_on END,
    dropped_on = CASE WHEN $3 = 'dropped-out' THEN $4 ELSE dropped_on END,
    drop_reason = CASE WHEN $3 = 'dropped-out' THEN $5 ELSE drop_reason END
WHERE course_id = $1 AND participant_id = $2
