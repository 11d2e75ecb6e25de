SELECT snapshot_id, report, year, quarter, stichtag, frozen_at, sha256
FROM snapshots WHERE report = $1 AND year = $2 AND quarter = $3 AND stichtag = $4
