-- The newest placement per participant, apart from `participants`: coaching's event may
-- arrive before intake's registration (two topics, no order between them), and an UPDATE of
-- a row not there yet changed nothing, so F2 enrolments were refused needs-work-or-training.
-- No foreign key, as for participant_providers; erasure removes the row.
CREATE TABLE participant_placements (
    participant_id uuid PRIMARY KEY,
    category       text NOT NULL
);
INSERT INTO participant_placements (participant_id, category)
SELECT participant_id, current_placement FROM participants WHERE current_placement IS NOT NULL;
ALTER TABLE participants DROP COLUMN current_placement;
