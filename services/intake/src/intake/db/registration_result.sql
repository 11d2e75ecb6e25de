-- $1 provider, $2 command id: what a (repeated) registration command produced
SELECT participant_id, status FROM registration_results WHERE provider = $1 AND command_id = $2
