-- Where the live projection resumes: $1 consumer; unqualified names are the live schema's
SELECT topic, partition, next_offset FROM consumer_checkpoints WHERE consumer = $1
