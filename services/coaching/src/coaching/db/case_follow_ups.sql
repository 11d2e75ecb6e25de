-- $1 participant_id: per window the last observation in it counts (ESF+)
SELECT DISTINCT ON (time_window) time_window, observed_on, category, employment_kind
FROM follow_ups WHERE participant_id = $1
ORDER BY time_window, observed_on DESC, recorded_at DESC
