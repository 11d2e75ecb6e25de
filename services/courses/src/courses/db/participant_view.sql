SELECT p.participant_id, p.employment_ban, pl.category AS current_placement
FROM participants AS p
LEFT JOIN participant_placements AS pl USING (participant_id)
WHERE p.participant_id = $1
