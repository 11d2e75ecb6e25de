-- $1 participant_id, $2 status, $3 legal_basis, $4 since
INSERT INTO residence_status_history (participant_id, status, legal_basis, since)
VALUES ($1, $2, $3, $4)
