-- A provider's access may be announced before the person's registration: intake assigns a
-- provider to a sure duplicate of a registration that still waits for an eligibility
-- exception, and publishes that registration only once a coordinator approves it. So an
-- access row no longer needs its participant row; erasure removes both.
ALTER TABLE participant_access DROP CONSTRAINT participant_access_participant_id_fkey;
