-- $1 participant_id, $2 provider, $3 until, $4 reason (sealed), $5 decided_by
INSERT INTO consent_overrides (participant_id, provider, until, reason_encrypted, decided_by)
VALUES ($1, $2, $3, $4, $5)
