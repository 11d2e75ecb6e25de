-- $1 actor, $2 action, $3 participant id (or NULL), $4 purpose: the entry's number
SELECT audit_append($1, $2, $3, $4)
