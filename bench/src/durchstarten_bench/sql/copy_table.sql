-- The COPY limit's table: shaped like reporting's participants
DROP TABLE IF EXISTS bench_copy;
CREATE TABLE bench_copy (
    participant_id      uuid        PRIMARY KEY,
    provider            text        NOT NULL,
    entry_date          date        NOT NULL,
    age_at_entry        integer     NOT NULL,
    sex                 text        NOT NULL,
    country_of_origin   text        NOT NULL,
    residence_status    text        NOT NULL,
    municipality        text        NOT NULL,
    school_education    text        NOT NULL,
    german_level        text        NOT NULL,
    registered_event_id text        NOT NULL,
    projected_at        timestamptz NOT NULL DEFAULT now()
)
