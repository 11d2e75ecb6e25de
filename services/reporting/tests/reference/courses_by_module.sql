-- $1 year, $2 provider or NULL: enrolments, completions and drop-outs per course module
SELECT module, event, count(*) AS people
FROM course_participations
WHERE extract(year FROM on_date) = $1 AND ($2::text IS NULL OR provider = $2)
GROUP BY module, event
