SELECT participant_id, employment_ban, current_placement FROM participants WHERE participant_id = $1
