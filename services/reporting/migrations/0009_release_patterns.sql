-- Protection patterns (issue 19, `reporting.patterns`): the cells a release withholds,
-- chosen once per model by one API instance and applied by every other. Positions only
-- (source, table, row, column of each withheld cell), never a count; keyed by the digest
-- of the model they were chosen for, so a pattern is applied only to the very model it
-- protects. The newest few are kept; they are rebuilt at will.
CREATE TABLE release_patterns (
    digest    text             PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
    pattern   bytea            NOT NULL,
    seconds   double precision NOT NULL,
    chosen_at timestamptz      NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX release_patterns_newest ON release_patterns (chosen_at DESC);
