-- $1 participant_id, $2 providers an override keeps: the others lose access (the
-- registering provider always keeps it)
DELETE FROM participant_access AS a
USING participants AS p
WHERE a.participant_id = $1 AND p.participant_id = a.participant_id
  AND a.provider <> p.provider AND NOT (a.provider = ANY($2::text[]))
