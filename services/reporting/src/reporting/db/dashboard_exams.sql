-- Exam results by overall level
SELECT e.overall, count(*) AS results
FROM exam_results AS e JOIN participants AS p USING (participant_id)
GROUP BY e.overall
