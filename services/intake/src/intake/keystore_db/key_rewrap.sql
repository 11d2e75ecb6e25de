-- $1 participant ids, $2 their master key ids, $3 their keys wrapped anew (same order)
UPDATE participant_keys AS k
SET key_id = n.key_id, wrapped_key = n.wrapped_key
FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS n (participant_id, key_id, wrapped_key)
WHERE k.participant_id = n.participant_id
