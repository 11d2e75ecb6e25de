-- The next version number: one more than any schema ever registered (dropped ones too)
SELECT coalesce(max(substring(schema_name FROM '[0-9]+$')::integer), 0) + 1
FROM projection_versions
