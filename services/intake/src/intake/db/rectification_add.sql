-- $1 participant_id, $2 fields corrected, $3 reason (sealed), $4 corrected_by
INSERT INTO rectifications (participant_id, fields, reason_encrypted, corrected_by)
VALUES ($1, $2, $3, $4)
