-- Courses' own knowledge of participants, from intake's and coaching's events.
CREATE TABLE participants (
    participant_id    uuid PRIMARY KEY,
    entry_date        date NOT NULL,
    employment_ban    boolean NOT NULL DEFAULT false,
    current_placement text     -- the newest placement category from coaching
);
CREATE TABLE erased_participants (participant_id uuid PRIMARY KEY);

CREATE TABLE courses (
    course_id    uuid PRIMARY KEY,
    provider     text NOT NULL,
    course_type  text NOT NULL,
    module       text NOT NULL CHECK (module IN ('F2', 'F3', 'F4')),
    site         text NOT NULL,
    start_date   date NOT NULL,
    end_date     date NOT NULL,
    parts        jsonb NOT NULL,      -- [{"name": ..., "planned_ue": ...}]
    target_level text,
    capacity     integer
);

-- A place or a waitlist entry; `seq` is the order of request (the waitlist order).
CREATE TABLE enrolments (
    course_id      uuid    NOT NULL REFERENCES courses,
    participant_id uuid    NOT NULL REFERENCES participants ON DELETE CASCADE,
    seq            bigserial,
    status         text    NOT NULL
        CHECK (status IN ('enrolled', 'waitlisted', 'completed', 'dropped-out')),
    requested_on   date    NOT NULL,
    enrolled_on    date,
    completed_on   date,
    dropped_on     date,
    drop_reason    text,
    PRIMARY KEY (course_id, participant_id)
);

CREATE TABLE attendance (
    course_id      uuid    NOT NULL REFERENCES courses,
    participant_id uuid    NOT NULL REFERENCES participants ON DELETE CASCADE,
    part           text    NOT NULL,
    date           date    NOT NULL,
    ue             integer NOT NULL
);
CREATE INDEX attendance_participant ON attendance (course_id, participant_id, part);

-- Teaching delivered per course, part and day (the most UE anyone attended that day):
-- what the lump sum per UE pays for. Not person-level: it stays after erasure.
CREATE TABLE course_days (
    course_id uuid    NOT NULL REFERENCES courses,
    part      text    NOT NULL,
    date      date    NOT NULL,
    ue        integer NOT NULL,
    PRIMARY KEY (course_id, part, date)
);

CREATE TABLE exam_results (
    course_id         uuid NOT NULL REFERENCES courses,
    participant_id    uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    exam_date         date NOT NULL,
    listening_reading text,
    writing           text,
    speaking          text,
    overall           text NOT NULL
);

CREATE TABLE certificates (
    course_id      uuid NOT NULL REFERENCES courses,
    participant_id uuid NOT NULL REFERENCES participants ON DELETE CASCADE,
    certificate    text NOT NULL,
    issued_on      date NOT NULL
);
