-- $1 today, $2 after override_id (NULL: from the start), $3 how many: overrides for review,
-- those still lasting and those ended, newest first is not needed: in order of decision
SELECT override_id, participant_id, provider, until, decided_by, decided_at,
       until >= $1 AS in_force
FROM consent_overrides
WHERE ($2::bigint IS NULL OR override_id > $2)
ORDER BY override_id
LIMIT $3
