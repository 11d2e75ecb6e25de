-- $1 consumer, $2 topics, $3 partitions, $4 next offsets
UPDATE consumer_checkpoints AS c
SET next_offset = t.next_offset
FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS t(topic, partition, next_offset)
WHERE c.consumer = $1 AND c.topic = t.topic AND c.partition = t.partition
  AND c.next_offset < t.next_offset
