-- $1 consumer, $2 topics, $3 partitions
SELECT c.topic, c.partition, c.next_offset
FROM consumer_checkpoints AS c
JOIN unnest($2::text[], $3::integer[]) AS t(topic, partition)
  ON c.topic = t.topic AND c.partition = t.partition
WHERE c.consumer = $1
ORDER BY c.topic, c.partition
FOR UPDATE OF c
