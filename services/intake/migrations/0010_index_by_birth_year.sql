-- Duplicate matching looks up tokens of a name's phonetic code together with the birth
-- year (issue 19), not of the name alone. Identities indexed before have name tokens only
-- (generation 1); intake adds the others when it starts, before it takes a command.
ALTER TABLE identities ADD COLUMN index_generation smallint NOT NULL DEFAULT 1;
ALTER TABLE identities ALTER COLUMN index_generation SET DEFAULT 2;
