-- $1 year: enrolments, completions and drop-outs per course module in the year
SELECT module, event, count(*) AS people
FROM course_participations
WHERE extract(year FROM on_date) = $1
GROUP BY module, event
