-- Blue-green projections: the projection tables move into a schema of their own
-- (`projection_1`), with that version's own checkpoints and processed event ids, so a
-- rebuild can fill `projection_2` from the earliest offset while `projection_1` serves.
-- `projection_versions` names the live version; a switch is one row update.
-- Snapshots stay in `public`: frozen reports do not belong to any projection version.
CREATE SCHEMA projection_1;

ALTER TABLE participants SET SCHEMA projection_1;
ALTER TABLE erased_participants SET SCHEMA projection_1;
ALTER TABLE duplicates SET SCHEMA projection_1;
ALTER TABLE exits SET SCHEMA projection_1;
ALTER TABLE module_participations SET SCHEMA projection_1;
ALTER TABLE placements SET SCHEMA projection_1;
ALTER TABLE exam_results SET SCHEMA projection_1;
ALTER TABLE course_participations SET SCHEMA projection_1;
ALTER TABLE funding SET SCHEMA projection_1;

CREATE TABLE projection_1.consumer_checkpoints (LIKE public.consumer_checkpoints INCLUDING ALL);
INSERT INTO projection_1.consumer_checkpoints
SELECT * FROM public.consumer_checkpoints WHERE consumer = 'reporting.projection.v1';
DELETE FROM public.consumer_checkpoints WHERE consumer = 'reporting.projection.v1';

CREATE TABLE projection_1.processed_messages (LIKE public.processed_messages INCLUDING ALL);
INSERT INTO projection_1.processed_messages
SELECT * FROM public.processed_messages WHERE consumer = 'reporting.projection.v1';
DELETE FROM public.processed_messages WHERE consumer = 'reporting.projection.v1';

-- Who ran a course and recorded a result: the provider scope of the course figures.
-- Rows projected before this migration have none; a rebuild fills them.
ALTER TABLE projection_1.course_participations ADD COLUMN provider text;
ALTER TABLE projection_1.exam_results ADD COLUMN provider text;
ALTER TABLE projection_1.funding ADD COLUMN provider text;

-- ESF+ follow-ups after exit; the last observation per window counts.
CREATE TABLE projection_1.follow_ups (
    participant_id   uuid NOT NULL,
    follow_up_window text NOT NULL,
    observed_on      date NOT NULL,
    provider         text NOT NULL,
    category         text NOT NULL,
    employment_kind  text,
    PRIMARY KEY (participant_id, follow_up_window, observed_on)
);

CREATE TABLE projection_versions (
    schema_name    text        PRIMARY KEY CHECK (schema_name ~ '^projection_[0-9]+$'),
    state          text        NOT NULL CHECK (state IN ('building', 'live', 'retired', 'failed')),
    rebuild_id     uuid        UNIQUE,
    started_at     timestamptz NOT NULL DEFAULT now(),
    switched_at    timestamptz,
    retired_at     timestamptz,
    events_applied bigint      NOT NULL DEFAULT 0,
    error_class    text
);
-- One live version, and at most one being built.
CREATE UNIQUE INDEX projection_versions_one_live ON projection_versions (state)
    WHERE state IN ('live', 'building');
INSERT INTO projection_versions (schema_name, state, switched_at)
VALUES ('projection_1', 'live', now());
