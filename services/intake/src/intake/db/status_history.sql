-- $1 participant_id
SELECT status, legal_basis, since, recorded_at
FROM residence_status_history WHERE participant_id = $1 ORDER BY recorded_at, since
