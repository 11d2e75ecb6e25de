-- $1 course_id: teaching units delivered per part
SELECT part, sum(ue) AS ue FROM course_days WHERE course_id = $1 GROUP BY part ORDER BY part
