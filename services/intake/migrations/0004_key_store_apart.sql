-- Participant keys move to a database of their own (the key store), so a backup of this
-- database alone cannot be decrypted once a key is destroyed. Intake adopts the keys kept
-- here into the store at its next start and deletes them from this table as it goes; the
-- table is renamed so nothing writes to it meanwhile, and has no other use.
ALTER TABLE participant_keys RENAME TO legacy_participant_keys;
ALTER TABLE legacy_participant_keys DROP CONSTRAINT participant_keys_participant_id_fkey;
