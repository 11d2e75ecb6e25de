-- $1 consumer, $2 dedupe key: what the first command with this id was, and its answer
SELECT fingerprint, reply FROM command_answers WHERE consumer = $1 AND dedupe_key = $2
