-- $1 year, $2 provider or NULL: exam results by overall level
SELECT overall, count(*) AS results FROM exam_results
WHERE extract(year FROM exam_date) = $1 AND ($2::text IS NULL OR provider = $2)
GROUP BY overall
