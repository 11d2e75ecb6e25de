-- {schema}: a checked projection schema name. Events the version recorded as applied.
SELECT count(*) FROM {schema}.processed_messages
