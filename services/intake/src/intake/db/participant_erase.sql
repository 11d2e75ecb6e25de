-- $1 participant_id: the ciphertext, blind index and sealed reasons (the key went first,
-- in the key store); the legal holds stay listed, without their reasons
WITH ids AS (DELETE FROM identities WHERE participant_id = $1),
     idx AS (DELETE FROM identity_index WHERE participant_id = $1),
     reviews AS (
         DELETE FROM duplicate_reviews WHERE participant_id = $1 OR candidate_id = $1
     ),
     reasons AS (
         UPDATE exception_decisions SET reason_encrypted = NULL WHERE participant_id = $1
     ),
     holds AS (
         UPDATE legal_holds SET reason_encrypted = NULL WHERE participant_id = $1
     ),
     rectified AS (
         UPDATE rectifications SET reason_encrypted = NULL WHERE participant_id = $1
     ),
     overridden AS (
         UPDATE consent_overrides SET reason_encrypted = NULL WHERE participant_id = $1
     )
UPDATE participants
SET status = 'erased', erased_at = now(), pending_event = NULL, failed_rules = '[]'
WHERE participant_id = $1
