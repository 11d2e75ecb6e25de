-- $1 participant_id, $2 provider, $3 day: may the person's data go to that provider then?
SELECT p.provider = $2
       OR (p.shares_data AND (p.sharing_expires_on IS NULL OR $3 <= p.sharing_expires_on))
       OR EXISTS (
           SELECT 1 FROM consent_overrides AS o
           WHERE o.participant_id = p.participant_id AND o.provider = $2 AND $3 <= o.until
       )
FROM participants AS p
WHERE p.participant_id = $1
