-- $1 actor, $2 action, $3 participant ids, $4 purpose: one entry per participant, in order
SELECT audit_append($1, $2, participant, $4)
FROM unnest($3::uuid[]) WITH ORDINALITY AS read (participant, position)
ORDER BY position
