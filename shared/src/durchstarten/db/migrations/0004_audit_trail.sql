-- The audit trail of person-level reads and writes, in every service: append-only by
-- privilege and keyed. Each entry carries an HMAC over the previous entry's MAC and its own
-- fields, with a key in `audit_key`, which only the database's owner (the role that runs
-- migrations) can read; the service's runtime role appends through `audit_append` and
-- verifies through `audit_verify`, both running with the owner's rights, and is granted
-- nothing else on these tables but reading the trail (durchstarten.db.roles). `audit_head`
-- remembers the newest entry, so deleting the newest entries is detected too.
CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- hmac(), gen_random_bytes()

CREATE TABLE audit_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key       bytea   NOT NULL
);
INSERT INTO audit_key (key) VALUES (gen_random_bytes(32));

CREATE TABLE audit_trail (
    seq            bigint      PRIMARY KEY,
    at             timestamptz NOT NULL,
    actor          text        NOT NULL,
    action         text        NOT NULL,
    participant_id uuid,
    purpose        text        NOT NULL,
    prev_mac       bytea       NOT NULL,
    mac            bytea       NOT NULL
);
CREATE INDEX audit_trail_participant ON audit_trail (participant_id);

CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq       bigint  NOT NULL,
    mac       bytea   NOT NULL
);
INSERT INTO audit_head (seq, mac) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- The MAC of one entry: every field length-prefixed, so no two entries encode alike.
CREATE FUNCTION audit_mac(
    prev bytea, at timestamptz, actor text, action text, participant uuid, purpose text, key bytea
) RETURNS bytea LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, public AS $$
    SELECT hmac(
        prev
        || int8send((extract(epoch FROM at) * 1000000)::bigint)
        || int4send(octet_length(actor)) || convert_to(actor, 'UTF8')
        || int4send(octet_length(action)) || convert_to(action, 'UTF8')
        || coalesce(uuid_send(participant), '\x'::bytea)
        || int4send(octet_length(purpose)) || convert_to(purpose, 'UTF8'),
        key,
        'sha256'
    )
$$;

-- Append at a given time: only migrations (re-chaining older trails) call this directly.
CREATE FUNCTION audit_chain(
    at timestamptz, actor text, action text, participant uuid, purpose text
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    head audit_head%ROWTYPE;
    entry_mac bytea;
BEGIN
    -- The head's row lock serialises appends: one chain, no forks.
    SELECT * INTO head FROM audit_head FOR UPDATE;
    entry_mac := audit_mac(
        head.mac, at, actor, action, participant, purpose, (SELECT key FROM audit_key)
    );
    INSERT INTO audit_trail (seq, at, actor, action, participant_id, purpose, prev_mac, mac)
    VALUES (head.seq + 1, at, actor, action, participant, purpose, head.mac, entry_mac);
    UPDATE audit_head SET seq = head.seq + 1, mac = entry_mac;
    RETURN head.seq + 1;
END $$;

-- What the service calls: the time is the database's, not the caller's.
CREATE FUNCTION audit_append(
    actor text, action text, participant uuid, purpose text
) RETURNS bigint LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
    SELECT audit_chain(clock_timestamp(), actor, action, participant, purpose)
$$;

-- Recompute the chain with the key; name the first entry that does not fit. An entry
-- removed from the end shows as the head's seq beyond the last entry.
CREATE FUNCTION audit_verify(
    OUT entries bigint, OUT first_broken_seq bigint, OUT head_seq bigint
) LANGUAGE plpgsql SECURITY DEFINER STABLE
SET search_path = pg_catalog, public AS $$
DECLARE
    key bytea := (SELECT k.key FROM audit_key AS k);
    prev bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
    expected_seq bigint := 1;
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

-- Functions are executable by everyone by default: these only by whom roles.py grants.
REVOKE ALL ON FUNCTION audit_mac(bytea, timestamptz, text, text, uuid, text, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_chain(timestamptz, text, text, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_append(text, text, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_verify() FROM PUBLIC;
