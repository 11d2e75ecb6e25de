-- $1 consumer, $2 dedupe key, $3 fingerprint: a command seen for the first time
INSERT INTO command_answers (consumer, dedupe_key, fingerprint) VALUES ($1, $2, $3)
ON CONFLICT (consumer, dedupe_key) DO NOTHING
