-- {schema}: a checked projection schema name; {moment}: the commit-time expression.
-- $1 since (epoch seconds): when the newest event applied since then was committed
SELECT extract(epoch FROM max({moment}))::float8
FROM {schema}.processed_messages
WHERE processed_at >= to_timestamp($1)
