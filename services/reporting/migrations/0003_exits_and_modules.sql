-- Facts kept apart from the registration, so they can arrive before it (any interleaving
-- of the three topics gives the same tables: they are joined when a report is made).
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
