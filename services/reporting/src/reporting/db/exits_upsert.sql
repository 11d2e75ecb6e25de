-- $1 ids, $2 exit dates, $3 reasons (erased participants stay out)
INSERT INTO exits (participant_id, exit_date, reason)
SELECT t.* FROM unnest($1::uuid[], $2::date[], $3::text[]) AS t (participant_id, exit_date, reason)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = t.participant_id)
ON CONFLICT (participant_id) DO NOTHING
