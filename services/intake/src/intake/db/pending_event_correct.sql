-- $1 participant_id, $2 age at entry, $3 sex, $4 country: a waiting registration's event
-- (announced once a coordinator approves) carries the corrected attributes
UPDATE participants
SET pending_event = pending_event
        || jsonb_build_object('age_at_entry', $2::int, 'sex', $3::text, 'country_of_origin', $4::text)
WHERE participant_id = $1 AND pending_event IS NOT NULL
