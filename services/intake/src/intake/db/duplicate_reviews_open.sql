-- Open reviews of possible duplicates; a page of at most $3 rows after the key
-- ($1 participant_id, $2 candidate_id), from the start when null; $4 the coordinator's
-- county (NULL: every county): a review is the county's whose registration was flagged
SELECT r.participant_id, r.candidate_id, r.score, p.county
FROM duplicate_reviews AS r JOIN participants AS p USING (participant_id)
WHERE r.status = 'open'
  AND ($4::text IS NULL OR p.county = $4)
  AND ($1::uuid IS NULL OR (r.participant_id, r.candidate_id) > ($1, $2::uuid))
ORDER BY r.participant_id, r.candidate_id
LIMIT $3::integer
