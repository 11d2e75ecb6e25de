-- $1 tokens: registrations sharing any blocking token, with how many they share
SELECT i.participant_id, count(*) AS shared
FROM identity_index AS i
JOIN participants AS p USING (participant_id)
WHERE i.token = ANY($1::bytea[]) AND p.status IN ('registered', 'pending-exception')
GROUP BY i.participant_id
ORDER BY shared DESC
LIMIT 50
