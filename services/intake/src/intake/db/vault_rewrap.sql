-- $1 participant ids, $2 master key id, $3 the keys wrapped anew (same order)
UPDATE participant_keys AS k
SET key_id = $2, wrapped_key = n.wrapped_key
FROM unnest($1::uuid[], $3::bytea[]) AS n (participant_id, wrapped_key)
WHERE k.participant_id = n.participant_id
