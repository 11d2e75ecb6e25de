-- $1 participant_id, $2 candidate_id, $3 score
INSERT INTO duplicate_reviews (participant_id, candidate_id, score) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
