INSERT INTO course_participations (course_id, participant_id, module, event, on_date, provider)
SELECT t.*
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::date[], $6::text[])
    AS t (course_id, participant_id, module, event, on_date, provider)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = t.participant_id)
ON CONFLICT DO NOTHING
