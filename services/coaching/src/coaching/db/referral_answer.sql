-- $1 referral_id, $2 answer, $3 answered_on, $4 answered_by
UPDATE referrals SET answer = $2, answered_on = $3, answered_by = $4 WHERE referral_id = $1
