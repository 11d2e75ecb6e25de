-- $1 year: exam results by overall level
SELECT overall, count(*) AS results FROM exam_results
WHERE extract(year FROM exam_date) = $1 GROUP BY overall
