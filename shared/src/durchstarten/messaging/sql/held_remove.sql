DELETE FROM held_commands WHERE id = $1
