-- $1 participant_id, $2 shares data between providers, $3 until when (NULL: until withdrawn)
UPDATE participants SET shares_data = $2, sharing_expires_on = $3 WHERE participant_id = $1
