-- $1 course_id, $2 part, $3 date, $4 ue attended (a batch's, at its flush): the most anyone
-- attended that day
INSERT INTO course_days (course_id, part, date, ue) VALUES ($1, $2, $3, $4)
ON CONFLICT (course_id, part, date) DO UPDATE SET ue = greatest(course_days.ue, excluded.ue)
