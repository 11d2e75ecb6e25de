-- $1 id, $2 report, $3 year, $4 quarter, $5 stichtag, $6 frozen_by, $7 body, $8 sha256:
-- the first freeze of a report for a Stichtag wins; a second returns the first
INSERT INTO snapshots (snapshot_id, report, year, quarter, stichtag, frozen_by, body, sha256)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (report, year, quarter, stichtag) DO NOTHING
