-- {schema}: a checked projection schema name; {moment}: the commit-time expression.
-- $1 event ids: when the transaction that applied each one was committed
SELECT message_id, extract(epoch FROM {moment})::float8 AS committed
FROM {schema}.processed_messages
WHERE message_id = ANY($1::text[])
