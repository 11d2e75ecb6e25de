-- $1 course_id: who waits longest
SELECT participant_id FROM enrolments
WHERE course_id = $1 AND status = 'waitlisted' ORDER BY seq LIMIT 1
