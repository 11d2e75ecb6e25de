-- $1 case_id, $2 participant_id, $3 provider, $4 module, $5 site, $6 opened_on
INSERT INTO cases (case_id, participant_id, provider, module, site, opened_on)
VALUES ($1, $2, $3, $4, $5, $6)
