-- $1 participant_id, $2 decision, $3 rules, $4 reason (encrypted), $5 decided_by
INSERT INTO exception_decisions (participant_id, decision, rules, reason_encrypted, decided_by)
VALUES ($1, $2, $3, $4, $5)
