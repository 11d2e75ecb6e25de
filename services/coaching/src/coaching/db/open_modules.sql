-- $1 participant_id
SELECT module FROM cases WHERE participant_id = $1 AND closed_on IS NULL
