-- Whether commit times are kept (pg_xact_commit_timestamp works only then)
SHOW track_commit_timestamp
