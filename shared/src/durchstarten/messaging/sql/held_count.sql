SELECT count(*) FROM held_commands WHERE consumer = $1
