-- $1 how long entries are kept (NULL: forever): the deletion plan's period, set by the owner
UPDATE audit_policy SET keep = $1::interval
