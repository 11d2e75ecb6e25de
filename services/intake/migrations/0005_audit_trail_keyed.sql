-- Intake's first audit log (an unkeyed hash chain the service's role could rewrite) moves
-- into the platform's keyed trail (platform migration 0004), entry by entry in order and
-- with its times, and is dropped.
DO $$
DECLARE
    entry record;
BEGIN
    FOR entry IN SELECT * FROM audit_log ORDER BY seq LOOP
        PERFORM audit_chain(
            entry.at, entry.actor, entry.action, entry.participant_id, entry.purpose
        );
    END LOOP;
END $$;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
