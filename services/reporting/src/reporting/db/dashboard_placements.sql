-- Placements by category (only of participants counted in the report)
SELECT l.category, count(*) AS placements
FROM placements AS l JOIN participants AS p USING (participant_id)
GROUP BY l.category
