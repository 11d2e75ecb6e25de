-- $1 as-of date, $2 days to answer, $3 provider (null: every provider)
SELECT referral_id, case_id, participant_id, from_provider, made_on, target_kind,
       course_type, target_provider, service, made_on + $2::integer AS due_on
FROM referrals
WHERE answer IS NULL
  AND made_on + $2::integer <= $1
  AND ($3::text IS NULL OR from_provider = $3 OR target_provider = $3)
ORDER BY made_on, referral_id
