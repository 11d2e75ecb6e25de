-- reporting: the schema of the live projection version
SELECT schema_name FROM projection_versions WHERE state = 'live'
