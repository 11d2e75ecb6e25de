-- Open reviews of possible duplicates; a page of at most $3 rows after the key
-- ($1 participant_id, $2 candidate_id), from the start when null
SELECT participant_id, candidate_id, score FROM duplicate_reviews
WHERE status = 'open'
  AND ($1::uuid IS NULL OR (participant_id, candidate_id) > ($1, $2::uuid))
ORDER BY participant_id, candidate_id
LIMIT $3::integer
