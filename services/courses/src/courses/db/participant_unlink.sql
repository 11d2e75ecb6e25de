-- $1 participant_id, $2 providers that keep the link: consent to data sharing ended, the
-- others may no longer enrol the person
DELETE FROM participant_providers
WHERE participant_id = $1 AND NOT (provider = ANY($2::text[]))
