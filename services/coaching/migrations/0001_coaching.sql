-- Coaching's own knowledge of participants, from intake's events (pseudonyms only).
CREATE TABLE participants (
    participant_id uuid PRIMARY KEY,
    provider       text NOT NULL,          -- the registering provider
    entry_date     date NOT NULL,
    exit_date      date
);

-- Which providers may act for a participant: registered, assigned, or received by referral.
CREATE TABLE participant_access (
    participant_id uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    provider       text NOT NULL,
    PRIMARY KEY (participant_id, provider)
);

-- Erased participants, so a replayed registration does not bring them back.
CREATE TABLE erased_participants (
    participant_id uuid PRIMARY KEY
);

CREATE TABLE cases (
    case_id        uuid PRIMARY KEY,
    participant_id uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    provider       text NOT NULL,
    module         text NOT NULL CHECK (module IN ('F1', 'F6')),
    site           text NOT NULL,
    opened_on      date NOT NULL,
    closed_on      date,
    close_reason   text
);
-- One open case per participant and module.
CREATE UNIQUE INDEX cases_one_open ON cases (participant_id, module) WHERE closed_on IS NULL;

CREATE TABLE sessions (
    session_id uuid PRIMARY KEY,
    case_id    uuid NOT NULL REFERENCES cases ON DELETE CASCADE,
    date       date NOT NULL,
    minutes    integer NOT NULL,
    languages  text[] NOT NULL,
    topics     text[] NOT NULL,
    coach_id   text NOT NULL
);

CREATE TABLE referrals (
    referral_id     uuid PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases ON DELETE CASCADE,
    participant_id  uuid NOT NULL,
    from_provider   text NOT NULL,
    made_on         date NOT NULL,
    target_kind     text NOT NULL,
    course_type     text,
    target_provider text,
    service         text,
    answer          text,
    answered_on     date,
    answered_by     text
);

CREATE TABLE placements (
    placement_id    uuid PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases ON DELETE CASCADE,
    participant_id  uuid NOT NULL,
    category        text NOT NULL,
    start_date      date NOT NULL,
    employment_kind text,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- Follow-ups after exit (ESF+): scheduled on exit, answered by recordings in the window.
CREATE TABLE follow_up_tasks (
    participant_id uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    time_window    text NOT NULL CHECK (time_window IN ('4-weeks', '6-months')),
    due_on         date NOT NULL,
    PRIMARY KEY (participant_id, time_window)
);

CREATE TABLE follow_ups (
    participant_id  uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    time_window     text NOT NULL,
    case_id         uuid NOT NULL REFERENCES cases ON DELETE CASCADE,
    observed_on     date NOT NULL,
    category        text NOT NULL,
    employment_kind text,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
