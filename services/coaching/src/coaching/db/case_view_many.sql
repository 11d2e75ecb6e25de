-- $1 case_ids, locked for the caller's transaction in one order (no two batches deadlock)
SELECT case_id, participant_id, provider, module, site, opened_on, closed_on
FROM cases WHERE case_id = ANY($1::uuid[]) ORDER BY case_id FOR UPDATE
