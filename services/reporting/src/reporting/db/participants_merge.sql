-- $1 duplicate ids, $2 the registrations they duplicate: count each person once
WITH marked AS (
    INSERT INTO duplicates (participant_id, duplicate_of)
    SELECT * FROM unnest($1::uuid[], $2::uuid[])
    ON CONFLICT DO NOTHING
)
DELETE FROM participants WHERE participant_id = ANY($1::uuid[])
