-- Registrations waiting for a coordinator's decision, oldest first
SELECT participant_id, provider, programme, entry_date, failed_rules, registered_at
FROM participants WHERE status = 'pending-exception' ORDER BY registered_at
