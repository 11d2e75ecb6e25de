-- $1 course_id: places taken, and people waiting
SELECT count(*) FILTER (WHERE status IN ('enrolled', 'completed')) AS taken,
       count(*) FILTER (WHERE status = 'waitlisted') AS waiting
FROM enrolments WHERE course_id = $1
