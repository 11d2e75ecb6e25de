-- $1 participant_id: every person-level row goes (cases, sessions, referrals, placements,
-- follow-ups cascade), a tombstone stays so a replay does not bring the person back
WITH tombstone AS (
    INSERT INTO erased_participants (participant_id) VALUES ($1) ON CONFLICT DO NOTHING
), referrals_out AS (
    DELETE FROM referrals WHERE participant_id = $1
), access_out AS (
    DELETE FROM participant_access WHERE participant_id = $1
), overrides_out AS (
    DELETE FROM consent_overrides WHERE participant_id = $1
)
DELETE FROM participants WHERE participant_id = $1
