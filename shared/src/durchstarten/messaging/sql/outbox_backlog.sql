SELECT count(*) FROM outbox WHERE published_at IS NULL
