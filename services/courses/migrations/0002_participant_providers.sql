-- Which providers may enrol a participant: the registering one, any assigned after a sure
-- duplicate, and any that accepted a referral (from intake's and coaching's events). No
-- foreign key: a referral's answer (coaching.events) may arrive before the registration
-- (intake.events). Erasure removes the rows.
CREATE TABLE participant_providers (
    participant_id uuid NOT NULL,
    provider       text NOT NULL,
    PRIMARY KEY (participant_id, provider)
);

-- Providers that enrolled a participant before links were kept go on doing so.
INSERT INTO participant_providers (participant_id, provider)
SELECT DISTINCT e.participant_id, c.provider
FROM enrolments AS e JOIN courses AS c USING (course_id)
ON CONFLICT DO NOTHING;
