-- $1 provider, $2 command id: the participant a (repeated) registration command created
SELECT participant_id FROM participants WHERE provider = $1 AND command_id = $2
