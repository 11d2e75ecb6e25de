-- $1 interval: keys stored longer ago than any registration can still be in flight
SELECT participant_id FROM participant_keys WHERE stored_at < now() - $1::interval
