-- The live version's checkpoints ({schema} is a checked projection schema name)
SELECT consumer, topic, partition, next_offset FROM {schema}.consumer_checkpoints
