-- $1 as-of date, $2 days to answer, $3 provider (null: every provider); a page of at most
-- $6 rows after the key ($4 made_on, $5 referral_id), from the start when null
SELECT referral_id, case_id, participant_id, from_provider, made_on, target_kind,
       course_type, target_provider, service, made_on + $2::integer AS due_on
FROM referrals
WHERE answer IS NULL
  AND made_on + $2::integer <= $1
  AND ($3::text IS NULL OR from_provider = $3 OR target_provider = $3)
  AND ($4::date IS NULL OR (made_on, referral_id) > ($4, $5::uuid))
ORDER BY made_on, referral_id
LIMIT $6::integer
