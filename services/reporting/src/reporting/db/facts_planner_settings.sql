-- The planner settings a set-based read changes (`facts_planner_use`), as they are now
SELECT current_setting('enable_nestloop') AS enable_nestloop, current_setting('jit') AS jit
