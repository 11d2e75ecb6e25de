-- $1 participant_id, $2 reason (sealed), $3 set_by: a hold in force; none if one is already
INSERT INTO legal_holds (participant_id, reason_encrypted, set_by)
VALUES ($1, $2, $3)
ON CONFLICT (participant_id) WHERE released_at IS NULL DO NOTHING
RETURNING hold_id, set_at
