-- The county lens of one projection version (search_path set to its schema): every
-- person-level table shows only the people of the county the reading transaction names
-- (`reporting_county()`, set by `reporting.versions.reading`), every table statewide when it
-- names none. Row-level security, forced so that it holds for the tables' owner (the
-- service's own role) too: a report's SQL cannot forget the county. Idempotent: laid on
-- every live or building version at each start and on every new version.
ALTER TABLE participants ENABLE ROW LEVEL SECURITY;
ALTER TABLE participants FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON participants;
CREATE POLICY county_lens ON participants
    USING (public.reporting_county() IS NULL OR county = public.reporting_county());

ALTER TABLE exits ENABLE ROW LEVEL SECURITY;
ALTER TABLE exits FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON exits;
CREATE POLICY county_lens ON exits USING (
    public.reporting_county() IS NULL
    OR EXISTS (SELECT 1 FROM participants AS p WHERE p.participant_id = exits.participant_id)
);

ALTER TABLE module_participations ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_participations FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON module_participations;
CREATE POLICY county_lens ON module_participations USING (
    public.reporting_county() IS NULL
    OR EXISTS (
        SELECT 1 FROM participants AS p
        WHERE p.participant_id = module_participations.participant_id
    )
);

ALTER TABLE placements ENABLE ROW LEVEL SECURITY;
ALTER TABLE placements FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON placements;
CREATE POLICY county_lens ON placements USING (
    public.reporting_county() IS NULL
    OR EXISTS (SELECT 1 FROM participants AS p WHERE p.participant_id = placements.participant_id)
);

ALTER TABLE exam_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE exam_results FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON exam_results;
CREATE POLICY county_lens ON exam_results USING (
    public.reporting_county() IS NULL
    OR EXISTS (
        SELECT 1 FROM participants AS p WHERE p.participant_id = exam_results.participant_id
    )
);

ALTER TABLE course_participations ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_participations FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON course_participations;
CREATE POLICY county_lens ON course_participations USING (
    public.reporting_county() IS NULL
    OR EXISTS (
        SELECT 1 FROM participants AS p
        WHERE p.participant_id = course_participations.participant_id
    )
);

ALTER TABLE follow_ups ENABLE ROW LEVEL SECURITY;
ALTER TABLE follow_ups FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON follow_ups;
CREATE POLICY county_lens ON follow_ups USING (
    public.reporting_county() IS NULL
    OR EXISTS (SELECT 1 FROM participants AS p WHERE p.participant_id = follow_ups.participant_id)
);

-- Funding is per course: a course is the county's where its site lies.
ALTER TABLE funding ENABLE ROW LEVEL SECURITY;
ALTER TABLE funding FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS county_lens ON funding;
CREATE POLICY county_lens ON funding USING (
    public.reporting_county() IS NULL
    OR EXISTS (
        SELECT 1 FROM courses AS c JOIN public.sites AS s USING (provider, site)
        WHERE c.course_id = funding.course_id AND s.county = public.reporting_county()
    )
);
