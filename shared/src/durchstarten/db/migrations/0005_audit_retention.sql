-- The audit trail's period (the deletion plan's `audit_trail`): entries older than it leave
-- the trail from its oldest end. The chain then starts at `audit_base` (the last removed
-- entry's number and MAC), so what remains still verifies, and an entry removed anywhere
-- else, or from the end, is still detected. `audit_policy` holds the period; the owner sets
-- it from the plan at every start (NULL: kept forever). The runtime role may call
-- `audit_purge`, which removes only what the policy lets go, and can change neither table.
CREATE TABLE audit_base (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq       bigint  NOT NULL,
    mac       bytea   NOT NULL
);
INSERT INTO audit_base (seq, mac)
VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_policy (
    singleton boolean  PRIMARY KEY DEFAULT true CHECK (singleton),
    keep      interval CHECK (keep > interval '0')
);
INSERT INTO audit_policy (keep) VALUES (NULL);

CREATE FUNCTION audit_purge() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    keep interval := (SELECT p.keep FROM audit_policy AS p);
    youngest_kept bigint;
    last_removed audit_trail%ROWTYPE;
    removed bigint;
BEGIN
    IF keep IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM 1 FROM audit_head FOR UPDATE;  -- no append while the base moves
    SELECT min(t.seq) INTO youngest_kept
    FROM audit_trail AS t WHERE t.at >= clock_timestamp() - keep;
    SELECT * INTO last_removed FROM audit_trail AS t
    WHERE youngest_kept IS NULL OR t.seq < youngest_kept
    ORDER BY t.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    DELETE FROM audit_trail AS t WHERE t.seq <= last_removed.seq;
    GET DIAGNOSTICS removed = ROW_COUNT;
    UPDATE audit_base SET seq = last_removed.seq, mac = last_removed.mac;
    RETURN removed;
END $$;

-- The chain is checked from its base on.
CREATE OR REPLACE FUNCTION audit_verify(
    OUT entries bigint, OUT first_broken_seq bigint, OUT head_seq bigint
) LANGUAGE plpgsql SECURITY DEFINER STABLE
SET search_path = pg_catalog, public AS $$
DECLARE
    key bytea := (SELECT k.key FROM audit_key AS k);
    prev bytea := (SELECT b.mac FROM audit_base AS b);
    expected_seq bigint := (SELECT b.seq FROM audit_base AS b) + 1;
    entry audit_trail%ROWTYPE;
BEGIN
    entries := 0;
    SELECT h.seq INTO head_seq FROM audit_head AS h;
    FOR entry IN SELECT * FROM audit_trail ORDER BY seq LOOP
        entries := entries + 1;
        IF first_broken_seq IS NULL AND (
            entry.seq <> expected_seq OR entry.prev_mac <> prev
            OR entry.mac <> audit_mac(
                prev, entry.at, entry.actor, entry.action, entry.participant_id,
                entry.purpose, key
            )
        ) THEN
            first_broken_seq := least(entry.seq, expected_seq);
        END IF;
        prev := entry.mac;
        expected_seq := entry.seq + 1;
    END LOOP;
    IF first_broken_seq IS NULL AND (
        head_seq <> expected_seq - 1 OR prev <> (SELECT h.mac FROM audit_head AS h)
    ) THEN
        first_broken_seq := expected_seq;  -- entries after this one are missing
    END IF;
END $$;

REVOKE ALL ON FUNCTION audit_purge() FROM PUBLIC;
