-- Registered participants. The only table in the whole system with personal identifiers;
-- the per-person encrypted vault replaces the plain identifier columns (issue 4).
CREATE TABLE participants (
    participant_id     uuid        PRIMARY KEY,
    provider           text        NOT NULL,
    command_id         text        NOT NULL,
    provider_reference text        NOT NULL,
    given_name         text        NOT NULL,
    family_name        text        NOT NULL,
    birth_date         date        NOT NULL,
    sex                text        NOT NULL,
    country_of_origin  text        NOT NULL,
    residence_status   text        NOT NULL,
    municipality       text        NOT NULL,
    school_education   text        NOT NULL,
    german_level       text        NOT NULL,
    entry_date         date        NOT NULL,
    registered_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, command_id)
);
