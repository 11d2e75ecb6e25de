-- Course facts: enrolment outcomes (person-level, removed on erasure) and funding (not
-- person-level: amounts per course, module and day stay).
CREATE TABLE course_participations (
    course_id      uuid NOT NULL,
    participant_id uuid NOT NULL,
    module         text NOT NULL,
    event          text NOT NULL CHECK (event IN ('enrolled', 'completed', 'dropped-out')),
    on_date        date NOT NULL,
    PRIMARY KEY (course_id, participant_id, event, on_date)
);

CREATE TABLE funding (
    event_id     text PRIMARY KEY,
    course_id    uuid    NOT NULL,
    module       text    NOT NULL,
    kind         text    NOT NULL,
    accrued_on   date    NOT NULL,
    ue           integer,
    amount_cents bigint  NOT NULL
);
