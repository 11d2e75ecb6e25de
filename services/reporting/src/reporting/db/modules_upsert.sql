-- $1 ids, $2 modules, $3 providers, $4 start dates (erased participants stay out)
INSERT INTO module_participations (participant_id, module, provider, started_on)
SELECT t.*
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::date[])
    AS t (participant_id, module, provider, started_on)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = t.participant_id)
ON CONFLICT DO NOTHING
