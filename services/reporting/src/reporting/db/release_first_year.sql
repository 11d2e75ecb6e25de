-- The first year anything a report counts is dated in, or a snapshot is frozen for: the
-- release's period family starts there (every earlier period is empty)
SELECT min(year)::int FROM (
    SELECT min(extract(year FROM entry_date)) AS year FROM participants
    UNION ALL SELECT min(extract(year FROM exit_date)) FROM exits
    UNION ALL SELECT min(extract(year FROM started_on)) FROM module_participations
    UNION ALL SELECT min(extract(year FROM start_date)) FROM placements
    UNION ALL SELECT min(extract(year FROM exam_date)) FROM exam_results
    UNION ALL SELECT min(extract(year FROM on_date)) FROM course_participations
    UNION ALL SELECT min(extract(year FROM accrued_on)) FROM funding
    UNION ALL SELECT min(extract(year FROM observed_on)) FROM follow_ups
    UNION ALL SELECT min(year) FROM public.snapshots
) AS firsts
