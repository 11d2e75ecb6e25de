SELECT participant_id, candidate_id, score FROM duplicate_reviews
WHERE status = 'open' ORDER BY participant_id
