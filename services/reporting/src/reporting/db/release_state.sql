-- What a release is computed from (inside a read of the live version): the live schema,
-- how far its projection has applied the event topics, and how many snapshots are frozen
SELECT current_schema() AS schema,
       (SELECT coalesce(sum(next_offset), 0) FROM consumer_checkpoints) AS applied,
       (SELECT count(*) FROM public.snapshots) AS snapshots
