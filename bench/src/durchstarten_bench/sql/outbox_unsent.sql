-- Rows a write service's relay has still to publish
SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL
