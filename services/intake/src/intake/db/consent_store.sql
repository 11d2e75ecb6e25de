-- $1 participant_id, $2 scopes, $3 given_on, $4 expires_on, $5 recorded_by: the consent now
INSERT INTO consents (participant_id, scopes, given_on, expires_on, recorded_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (participant_id) DO UPDATE
SET scopes = EXCLUDED.scopes, given_on = EXCLUDED.given_on, expires_on = EXCLUDED.expires_on,
    recorded_by = EXCLUDED.recorded_by, recorded_at = now(), expiry_announced = false
