-- $1 a participant, $2 another, $3 score: a review of the pair after a correction, the
-- later registration as the possible duplicate of the earlier (as at registration); none
-- when the pair has a review already, either way round
INSERT INTO duplicate_reviews (participant_id, candidate_id, score)
SELECT CASE WHEN a.registered_at >= b.registered_at THEN a.participant_id ELSE b.participant_id END,
       CASE WHEN a.registered_at >= b.registered_at THEN b.participant_id ELSE a.participant_id END,
       $3
FROM participants AS a, participants AS b
WHERE a.participant_id = $1 AND b.participant_id = $2
  AND NOT EXISTS (
      SELECT 1 FROM duplicate_reviews AS r
      WHERE (r.participant_id = $1 AND r.candidate_id = $2)
         OR (r.participant_id = $2 AND r.candidate_id = $1)
  )
ON CONFLICT DO NOTHING
