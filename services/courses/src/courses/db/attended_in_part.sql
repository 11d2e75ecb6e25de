SELECT coalesce(sum(ue), 0) FROM attendance
WHERE course_id = $1 AND participant_id = $2 AND part = $3
