-- $1 consumer, $2 topics, $3 partitions: create the checkpoints a batch needs, at offset 0
INSERT INTO consumer_checkpoints (consumer, topic, partition, next_offset)
SELECT $1, t.topic, t.partition, 0
FROM unnest($2::text[], $3::integer[]) AS t(topic, partition)
ON CONFLICT DO NOTHING
