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
