-- $1 course_id, $2 part, $3 date, $4 ue attended: returns the UE delivered before and now
WITH before AS (
    SELECT ue FROM course_days WHERE course_id = $1 AND part = $2 AND date = $3
), upserted AS (
    INSERT INTO course_days (course_id, part, date, ue) VALUES ($1, $2, $3, $4)
    ON CONFLICT (course_id, part, date) DO UPDATE SET ue = greatest(course_days.ue, excluded.ue)
    RETURNING ue
)
SELECT coalesce((SELECT ue FROM before), 0) AS before, (SELECT ue FROM upserted) AS now
