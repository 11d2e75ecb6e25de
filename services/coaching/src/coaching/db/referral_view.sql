-- $1 referral_id, locked
SELECT referral_id, case_id, participant_id, from_provider, made_on, target_kind,
       target_provider, answer
FROM referrals WHERE referral_id = $1 FOR UPDATE
