-- $1 report, $2 year, $3 quarter, $4 Stichtag, $5 county: the snapshot frozen for them
SELECT snapshot_id, report, year, quarter, stichtag, county, frozen_at, sha256
FROM public.snapshots
WHERE report = $1 AND year = $2 AND quarter = $3 AND stichtag = $4 AND county = $5
