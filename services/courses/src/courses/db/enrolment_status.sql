SELECT status FROM enrolments WHERE course_id = $1 AND participant_id = $2
