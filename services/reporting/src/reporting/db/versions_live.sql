SELECT schema_name FROM projection_versions WHERE state = 'live'
