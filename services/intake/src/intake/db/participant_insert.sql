-- $1 participant_id, $2 provider, $3 command_id, $4 status, $5 programme, $6 sex,
-- $7 country_of_origin, $8 residence_status, $9 municipality, $10 school_education,
-- $11 german_level, $12 entry_date, $13 lives_in_state_reception_facility,
-- $14 employment_ban, $15 failed_rules, $16 pending_event, $17 county
INSERT INTO participants (
    participant_id, provider, command_id, status, programme, sex, country_of_origin,
    residence_status, municipality, school_education, german_level, entry_date,
    lives_in_state_reception_facility, employment_ban, failed_rules, pending_event, county
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
