-- Frozen reports (Stichtag): the exact bytes published, never changed by later events or
-- by erasure (published aggregates stay; they hold no person-level data).
CREATE TABLE snapshots (
    snapshot_id uuid        PRIMARY KEY,
    report      text        NOT NULL,
    year        integer     NOT NULL,
    quarter     integer     NOT NULL,
    stichtag    date        NOT NULL,
    frozen_at   timestamptz NOT NULL DEFAULT now(),
    frozen_by   text        NOT NULL,
    body        bytea       NOT NULL,
    sha256      text        NOT NULL,
    UNIQUE (report, year, quarter, stichtag)
);
CREATE FUNCTION snapshots_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'snapshots are immutable';
END $$;
CREATE TRIGGER snapshots_no_change BEFORE UPDATE OR DELETE ON snapshots
    FOR EACH ROW EXECUTE FUNCTION snapshots_immutable();
