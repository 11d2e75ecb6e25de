-- $1 case_id
SELECT referral_id, made_on, target_kind, course_type, target_provider, service, answer,
       answered_on
FROM referrals WHERE case_id = $1 ORDER BY made_on
