-- $1 the search path, for the current transaction only
SELECT set_config('search_path', $1, true)
