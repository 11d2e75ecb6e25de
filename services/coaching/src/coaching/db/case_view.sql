-- $1 case_id, locked for the caller's transaction
SELECT case_id, participant_id, provider, module, site, opened_on, closed_on
FROM cases WHERE case_id = $1 FOR UPDATE
