-- $1 participant_ids
SELECT participant_id, module FROM cases
WHERE participant_id = ANY($1::uuid[]) AND closed_on IS NULL
