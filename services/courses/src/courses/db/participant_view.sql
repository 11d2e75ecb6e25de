-- $1 participant_id: what courses knows of the person, and which providers may enrol them
SELECT p.participant_id, p.employment_ban, p.current_placement,
       coalesce(
           (SELECT array_agg(l.provider) FROM participant_providers AS l
            WHERE l.participant_id = p.participant_id),
           '{}'
       ) AS providers
FROM participants AS p
WHERE p.participant_id = $1
