-- $1 case_id: newest first; the first one is the participant's current status
SELECT placement_id, category, start_date, employment_kind
FROM placements WHERE case_id = $1 ORDER BY start_date DESC, recorded_at DESC
