SELECT body, sha256 FROM snapshots WHERE snapshot_id = $1
