-- $1 participant_id: the registration's state, locked for the caller's transaction
SELECT participant_id, provider, status, programme, entry_date, municipality, county,
       lives_in_state_reception_facility, failed_rules, pending_event, exit_date, sex,
       country_of_origin
FROM participants
WHERE participant_id = $1
FOR UPDATE
