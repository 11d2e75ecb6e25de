-- $1 the county key a reading transaction is scoped to ('' for statewide), until it ends
SELECT set_config('durchstarten.county', $1, true)
