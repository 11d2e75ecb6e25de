-- The projection versions in use: the live one and one being built
SELECT schema_name FROM projection_versions WHERE state IN ('live', 'building')
ORDER BY schema_name
