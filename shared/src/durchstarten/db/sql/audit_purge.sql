-- Remove the entries older than the policy's period, from the oldest end; how many
SELECT audit_purge()
