-- The tables of one projection version, created in an empty schema (search_path set to it)
-- when a rebuild starts. Version 1 was made by migrations 0001-0007; a test keeps the two
-- identical. A projection change is made here and takes effect with a rebuild.

-- Registered participants: pseudonym and coarse attributes only.
CREATE TABLE participants (
    participant_id      uuid        PRIMARY KEY,
    provider            text        NOT NULL,
    entry_date          date        NOT NULL,
    age_at_entry        integer     NOT NULL,
    sex                 text        NOT NULL,
    country_of_origin   text        NOT NULL,
    residence_status    text        NOT NULL,
    municipality        text        NOT NULL,
    county              text        NOT NULL,
    school_education    text        NOT NULL,
    german_level        text        NOT NULL,
    registered_event_id text        NOT NULL,
    projected_at        timestamptz NOT NULL DEFAULT now()
);

-- Person-level rows go on erasure; a tombstone keeps a replayed registration from returning.
CREATE TABLE erased_participants (
    participant_id uuid PRIMARY KEY,
    erased_on      date NOT NULL
);

-- A confirmed duplicate no longer counts as a person of its own.
CREATE TABLE duplicates (
    participant_id uuid PRIMARY KEY,
    duplicate_of   uuid NOT NULL
);

-- Facts kept apart from the registration, so they can arrive before it.
CREATE TABLE exits (
    participant_id uuid PRIMARY KEY,
    exit_date      date NOT NULL,
    reason         text NOT NULL
);

CREATE TABLE module_participations (
    participant_id uuid NOT NULL,
    module         text NOT NULL,
    provider       text NOT NULL,
    started_on     date NOT NULL,
    PRIMARY KEY (participant_id, module, started_on)
);

CREATE TABLE placements (
    placement_id    uuid PRIMARY KEY,
    participant_id  uuid NOT NULL,
    provider        text NOT NULL,
    site            text NOT NULL,
    category        text NOT NULL,
    start_date      date NOT NULL,
    employment_kind text
);
CREATE INDEX placements_participant ON placements (participant_id);

CREATE TABLE exam_results (
    course_id      uuid NOT NULL,
    participant_id uuid NOT NULL,
    exam_date      date NOT NULL,
    overall        text NOT NULL,
    provider       text,
    PRIMARY KEY (course_id, participant_id, exam_date)
);

CREATE TABLE course_participations (
    course_id      uuid NOT NULL,
    participant_id uuid NOT NULL,
    module         text NOT NULL,
    event          text NOT NULL CHECK (event IN ('enrolled', 'completed', 'dropped-out')),
    on_date        date NOT NULL,
    provider       text,
    PRIMARY KEY (course_id, participant_id, event, on_date)
);

-- Moves between counties (participant.moved.v1): an exit there, an entry here; one person.
CREATE TABLE moves (
    event_id       text PRIMARY KEY,
    participant_id uuid NOT NULL,
    moved_on       date NOT NULL,
    from_county    text NOT NULL,
    to_county      text NOT NULL,
    municipality   text NOT NULL
);
CREATE INDEX moves_participant ON moves (participant_id);

-- Where each course runs (its provider and site; `public.sites` names the county).
CREATE TABLE courses (
    course_id uuid PRIMARY KEY,
    provider  text NOT NULL,
    site      text NOT NULL
);

-- Funding is not person-level: amounts per course, module and day stay on erasure.
CREATE TABLE funding (
    event_id     text PRIMARY KEY,
    course_id    uuid    NOT NULL,
    module       text    NOT NULL,
    kind         text    NOT NULL,
    accrued_on   date    NOT NULL,
    ue           integer,
    amount_cents bigint  NOT NULL,
    provider     text
);

-- ESF+ follow-ups after exit; the last observation per window counts.
CREATE TABLE follow_ups (
    participant_id   uuid NOT NULL,
    follow_up_window text NOT NULL,
    observed_on      date NOT NULL,
    provider         text NOT NULL,
    category         text NOT NULL,
    employment_kind  text,
    PRIMARY KEY (participant_id, follow_up_window, observed_on)
);

-- This version's own exactly-once guards (the same shape as the platform's tables).
CREATE TABLE consumer_checkpoints (
    consumer    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);

CREATE TABLE processed_messages (
    consumer     text        NOT NULL,
    message_id   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
