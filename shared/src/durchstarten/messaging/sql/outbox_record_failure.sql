-- $1 seq, $2 error class, $3 attempts after which the row is parked
UPDATE outbox
SET attempts = attempts + 1,
    last_error = $2,
    parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END
WHERE seq = $1
RETURNING parked_at IS NOT NULL AS parked
