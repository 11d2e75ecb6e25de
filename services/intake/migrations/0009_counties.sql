-- Statewide (issue 18): municipalities are official keys (AGS), each registration knows its
-- county, and a coordinator's work lists are scoped to it. Registrations made before kept
-- the Herford names of register-participant.v1/v2: they become their keys (the same table
-- as the upcasters, durchstarten.events.values.HERFORD_KEYS), and so do the events that
-- wait for an exception decision.
ALTER TABLE participants ADD COLUMN county text;

UPDATE participants SET municipality = CASE municipality
    WHEN 'buende' THEN '05758004'
    WHEN 'enger' THEN '05758008'
    WHEN 'herford' THEN '05758012'
    WHEN 'hiddenhausen' THEN '05758016'
    WHEN 'kirchlengern' THEN '05758020'
    WHEN 'loehne' THEN '05758024'
    WHEN 'roedinghausen' THEN '05758028'
    WHEN 'spenge' THEN '05758032'
    WHEN 'vlotho' THEN '05758036'
    ELSE municipality END;
UPDATE participants SET county = left(municipality, 5);
UPDATE participants
SET pending_event = pending_event
    || jsonb_build_object('municipality', municipality, 'county', county)
WHERE pending_event IS NOT NULL;

ALTER TABLE participants ALTER COLUMN county SET NOT NULL;
ALTER TABLE participants ADD CONSTRAINT participants_municipality_key
    CHECK (municipality ~ '^[0-9]{8}$' AND county = left(municipality, 5));
CREATE INDEX participants_county ON participants (county);
