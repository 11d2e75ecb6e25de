-- $1 today, $2 after override_id (NULL: from the start), $3 how many, $4 the coordinator's
-- county (NULL: every county): overrides for review, those still lasting and those ended,
-- in order of decision
SELECT o.override_id, o.participant_id, o.provider, o.until, o.decided_by, o.decided_at,
       o.until >= $1 AS in_force
FROM consent_overrides AS o JOIN participants AS p USING (participant_id)
WHERE ($2::bigint IS NULL OR o.override_id > $2)
  AND ($4::text IS NULL OR p.county = $4)
ORDER BY o.override_id
LIMIT $3
