-- $1 after hold_id (NULL: from the start), $2 how many: holds in force, oldest first, for
-- review (without their sealed reasons)
SELECT hold_id, participant_id, set_by, set_at
FROM legal_holds
WHERE released_at IS NULL AND ($1::bigint IS NULL OR hold_id > $1)
ORDER BY hold_id
LIMIT $2
