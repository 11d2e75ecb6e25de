-- Entries, exits and caseload per quarter from the first entry to today
WITH bounds AS (
    SELECT date_trunc('quarter', min(entry_date))::date AS first_quarter FROM participants
), quarters AS (
    SELECT q::date AS start, (q + interval '3 months' - interval '1 day')::date AS end_
    FROM bounds, generate_series(bounds.first_quarter, date_trunc('quarter', now()), '3 months') AS q
    WHERE bounds.first_quarter IS NOT NULL
)
SELECT q.start,
       count(p.participant_id) FILTER (WHERE p.entry_date BETWEEN q.start AND q.end_) AS entries,
       count(p.participant_id) FILTER (WHERE x.exit_date BETWEEN q.start AND q.end_) AS exits,
       count(p.participant_id) FILTER (
           WHERE p.entry_date <= q.end_ AND (x.exit_date IS NULL OR x.exit_date > q.end_)
       ) AS caseload
FROM quarters AS q
CROSS JOIN participants AS p
LEFT JOIN exits AS x USING (participant_id)
GROUP BY q.start
ORDER BY q.start
