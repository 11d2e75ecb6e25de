-- $1 participant_ids
SELECT p.participant_id, p.entry_date, p.exit_date,
       coalesce(array_agg(a.provider) FILTER (WHERE a.provider IS NOT NULL), '{}') AS providers
FROM participants AS p LEFT JOIN participant_access AS a USING (participant_id)
WHERE p.participant_id = ANY($1::uuid[])
GROUP BY p.participant_id
