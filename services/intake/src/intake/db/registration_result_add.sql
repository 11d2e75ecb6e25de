-- $1 provider, $2 command id, $3 participant_id, $4 status
INSERT INTO registration_results (provider, command_id, participant_id, status)
VALUES ($1, $2, $3, $4)
