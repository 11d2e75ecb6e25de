-- Outcomes for the dashboard and the outcome reports; person-level, removed on erasure.
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
    PRIMARY KEY (course_id, participant_id, exam_date)
);
