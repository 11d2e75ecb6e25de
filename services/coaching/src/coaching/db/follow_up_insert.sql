-- $1 participant_id, $2 window, $3 case_id, $4 observed_on, $5 category, $6 employment_kind
INSERT INTO follow_ups (participant_id, time_window, case_id, observed_on, category, employment_kind)
VALUES ($1, $2, $3, $4, $5, $6)
