-- $1 seconds: answers older than the deletion plan's period go
DELETE FROM command_answers WHERE recorded_at < now() - make_interval(secs => $1)
