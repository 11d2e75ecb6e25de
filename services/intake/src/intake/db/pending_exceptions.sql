-- Registrations waiting for a coordinator's decision, oldest first; a page of at most $3
-- rows after the key ($1 registered_at, $2 participant_id), from the start when null;
-- $4 the coordinator's county (NULL: every county, for an administrator)
SELECT participant_id, provider, programme, county, entry_date, failed_rules, registered_at
FROM participants
WHERE status = 'pending-exception'
  AND ($4::text IS NULL OR county = $4)
  AND ($1::timestamptz IS NULL OR (registered_at, participant_id) > ($1, $2::uuid))
ORDER BY registered_at, participant_id
LIMIT $3::integer
