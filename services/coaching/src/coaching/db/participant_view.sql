-- $1 participant_id
SELECT p.participant_id, p.entry_date, p.exit_date,
       coalesce(array_agg(a.provider) FILTER (WHERE a.provider IS NOT NULL), '{}') AS providers
FROM participants AS p LEFT JOIN participant_access AS a USING (participant_id)
WHERE p.participant_id = $1
GROUP BY p.participant_id
