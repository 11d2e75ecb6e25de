-- $1 today, $2 how many: people whose consent expired, or an override ended, since the
-- last announcement (locked: instances share the work)
SELECT p.participant_id
FROM participants AS p
WHERE p.status = 'registered' AND (
    EXISTS (
        SELECT 1 FROM consents AS c
        WHERE c.participant_id = p.participant_id AND NOT c.expiry_announced
          AND c.expires_on < $1
    ) OR EXISTS (
        SELECT 1 FROM consent_overrides AS o
        WHERE o.participant_id = p.participant_id AND NOT o.end_announced AND o.until < $1
    )
)
ORDER BY p.participant_id
LIMIT $2
FOR UPDATE OF p SKIP LOCKED
