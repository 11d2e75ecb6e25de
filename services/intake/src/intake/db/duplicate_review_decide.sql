-- $1 participant_id, $2 candidate_id, $3 status, $4 decided_by: only an open review
UPDATE duplicate_reviews
SET status = $3, decided_by = $4, decided_at = now()
WHERE participant_id = $1 AND candidate_id = $2 AND status = 'open'
RETURNING participant_id
