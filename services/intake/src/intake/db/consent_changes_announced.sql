-- $1 participant_id, $2 today: what ran out before today is announced
WITH c AS (
    UPDATE consents SET expiry_announced = true
    WHERE participant_id = $1 AND expires_on < $2
)
UPDATE consent_overrides SET end_announced = true WHERE participant_id = $1 AND until < $2
