SELECT count(*) FROM participants
