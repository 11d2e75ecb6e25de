INSERT INTO exam_results (course_id, participant_id, exam_date, overall, provider)
SELECT t.*
FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::text[])
    AS t (course_id, participant_id, exam_date, overall, provider)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = t.participant_id)
ON CONFLICT DO NOTHING
