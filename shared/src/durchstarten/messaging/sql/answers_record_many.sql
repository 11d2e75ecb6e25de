-- $1 consumer, $2 dedupe keys, $3 fingerprints: the commands of a batch seen for the first time
INSERT INTO command_answers (consumer, dedupe_key, fingerprint)
SELECT $1, dedupe_key, fingerprint FROM unnest($2::text[], $3::bytea[]) AS given (dedupe_key, fingerprint)
ON CONFLICT (consumer, dedupe_key) DO NOTHING
