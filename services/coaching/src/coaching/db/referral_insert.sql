-- $1 referral_id, $2 case_id, $3 participant_id, $4 from_provider, $5 made_on,
-- $6 target_kind, $7 course_type, $8 target_provider, $9 service
INSERT INTO referrals (
    referral_id, case_id, participant_id, from_provider, made_on, target_kind, course_type,
    target_provider, service
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (referral_id) DO NOTHING
RETURNING referral_id
