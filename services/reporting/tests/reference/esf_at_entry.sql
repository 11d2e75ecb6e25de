-- $1 year, $2 provider or NULL: people entering in the year, grouped by the ESF+ common
-- categories that the registration carries
SELECT p.sex,
       CASE WHEN p.age_at_entry < 18 THEN 'under-18'
            WHEN p.age_at_entry <= 29 THEN '18-29'
            WHEN p.age_at_entry <= 54 THEN '30-54'
            ELSE '55-and-over' END AS age_band,
       p.school_education,
       p.country_of_origin,
       count(*) AS people
FROM participants AS p
WHERE extract(year FROM p.entry_date) = $1
  AND ($2::text IS NULL OR EXISTS (
      SELECT 1 FROM module_participations AS s
      WHERE s.participant_id = p.participant_id AND s.provider = $2
  ))
GROUP BY 1, 2, 3, 4
