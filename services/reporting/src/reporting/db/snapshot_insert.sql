-- $1 id, $2 report, $3 year, $4 quarter, $5 stichtag, $6 frozen_by, $7 body, $8 sha256,
-- $9 county: the first freeze of a county's report for a Stichtag wins; a second returns the
-- first
INSERT INTO public.snapshots (
    snapshot_id, report, year, quarter, stichtag, frozen_by, body, sha256, county
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (report, year, quarter, stichtag, county) DO NOTHING
