INSERT INTO funding (event_id, course_id, module, kind, accrued_on, ue, amount_cents, provider)
SELECT * FROM unnest(
    $1::text[], $2::uuid[], $3::text[], $4::text[], $5::date[], $6::integer[], $7::bigint[],
    $8::text[]
)
ON CONFLICT DO NOTHING
