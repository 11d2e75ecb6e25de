-- $1 snapshot id: its stored bytes, their SHA-256 and the county it is of
SELECT body, sha256, county FROM public.snapshots WHERE snapshot_id = $1
