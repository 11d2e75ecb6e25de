-- $1 retention in seconds: sent rows older than this are deleted
DELETE FROM outbox
WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)
