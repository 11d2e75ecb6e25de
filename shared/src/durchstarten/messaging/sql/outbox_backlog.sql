SELECT count(*) FILTER (WHERE parked_at IS NULL) AS unsent,
       count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
FROM outbox
WHERE published_at IS NULL
