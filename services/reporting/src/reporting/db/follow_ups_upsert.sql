-- $1 ids, $2 windows, $3 observed on, $4 providers, $5 categories, $6 employment kinds.
-- A later observation on the same day replaces the earlier (one person's events keep
-- their order in one partition); erased participants stay out.
INSERT INTO follow_ups (
    participant_id, follow_up_window, observed_on, provider, category, employment_kind
)
SELECT t.*
FROM unnest($1::uuid[], $2::text[], $3::date[], $4::text[], $5::text[], $6::text[])
    AS t (participant_id, follow_up_window, observed_on, provider, category, employment_kind)
WHERE NOT EXISTS (SELECT 1 FROM erased_participants AS e WHERE e.participant_id = t.participant_id)
ON CONFLICT (participant_id, follow_up_window, observed_on) DO UPDATE
SET provider = excluded.provider, category = excluded.category,
    employment_kind = excluded.employment_kind
