-- $1 case_id
SELECT c.case_id, c.participant_id, c.provider, c.module, c.site, c.opened_on, c.closed_on,
       c.close_reason,
       (SELECT count(*) FROM sessions AS s WHERE s.case_id = c.case_id) AS sessions,
       (SELECT coalesce(sum(minutes), 0) FROM sessions AS s WHERE s.case_id = c.case_id)
           AS session_minutes
FROM cases AS c WHERE c.case_id = $1
