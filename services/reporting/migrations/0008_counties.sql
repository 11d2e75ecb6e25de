-- Statewide (issue 18): reports per county. Municipalities are official keys (AGS); each
-- participant row knows its county; courses know their site; moves between counties are
-- kept. The county files' municipalities and sites are kept in `public` (refreshed at every
-- start, `reporting.counties`); a county's reports read through its lens, views that show
-- the county's stays only (`reporting.counties.lens_sql`). Rows projected before kept the
-- Herford names of participant.registered.v1/v2: they become their keys (as the upcaster).
CREATE TABLE municipalities (
    key    text PRIMARY KEY CHECK (key ~ '^[0-9]{8}$'),
    county text NOT NULL CHECK (county ~ '^[0-9]{5}$'),
    name   text NOT NULL
);
CREATE TABLE sites (
    provider text NOT NULL,
    site     text NOT NULL,
    county   text NOT NULL CHECK (county ~ '^[0-9]{5}$'),
    PRIMARY KEY (provider, site)
);

CREATE FUNCTION reporting_county() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('durchstarten.county', true), '')
$$;

-- Snapshots are frozen per county; those frozen before were Kreis Herford's.
ALTER TABLE snapshots ADD COLUMN county text;
ALTER TABLE snapshots DISABLE TRIGGER snapshots_no_change;
UPDATE snapshots SET county = '05758';
ALTER TABLE snapshots ENABLE TRIGGER snapshots_no_change;
ALTER TABLE snapshots ALTER COLUMN county SET NOT NULL;
ALTER TABLE snapshots ALTER COLUMN county SET DEFAULT public.reporting_county();
ALTER TABLE snapshots DROP CONSTRAINT snapshots_report_year_quarter_stichtag_key;
ALTER TABLE snapshots ADD CONSTRAINT snapshots_one_per_county
    UNIQUE (report, year, quarter, stichtag, county);

-- Every projection version: the county column, the courses and moves tables (the lens
-- itself is laid at every start, `reporting.counties.lay_lens`). Dynamic SQL throughout: PL/pgSQL
-- would reuse a statement planned for the first schema in the next.
DO $$
DECLARE
    version text;
BEGIN
    FOR version IN SELECT schema_name FROM projection_versions
                   WHERE state IN ('live', 'building') LOOP
        EXECUTE format('ALTER TABLE %I.participants ADD COLUMN county text', version);
        EXECUTE format($sql$
            UPDATE %I.participants SET municipality = CASE municipality
                WHEN 'buende' THEN '05758004'
                WHEN 'enger' THEN '05758008'
                WHEN 'herford' THEN '05758012'
                WHEN 'hiddenhausen' THEN '05758016'
                WHEN 'kirchlengern' THEN '05758020'
                WHEN 'loehne' THEN '05758024'
                WHEN 'roedinghausen' THEN '05758028'
                WHEN 'spenge' THEN '05758032'
                WHEN 'vlotho' THEN '05758036'
                ELSE municipality END
        $sql$, version);
        EXECUTE format('UPDATE %I.participants SET county = left(municipality, 5)', version);
        EXECUTE format(
            'ALTER TABLE %I.participants ALTER COLUMN county SET NOT NULL', version
        );
        EXECUTE format(
            'CREATE TABLE %I.courses (course_id uuid PRIMARY KEY, provider text NOT NULL,'
            ' site text NOT NULL)',
            version
        );
        EXECUTE format(
            'CREATE TABLE %I.moves (event_id text PRIMARY KEY, participant_id uuid NOT NULL,'
            ' moved_on date NOT NULL, from_county text NOT NULL, to_county text NOT NULL,'
            ' municipality text NOT NULL)',
            version
        );
        EXECUTE format('CREATE INDEX moves_participant ON %I.moves (participant_id)', version);
    END LOOP;
END $$;
