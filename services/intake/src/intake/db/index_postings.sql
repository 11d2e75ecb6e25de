-- $1 tokens: every registration holding each, of those duplicate matching compares with
SELECT i.token, i.participant_id
FROM identity_index AS i
JOIN participants AS p USING (participant_id)
WHERE i.token = ANY($1::bytea[]) AND p.status IN ('registered', 'pending-exception')
