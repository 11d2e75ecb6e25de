-- $1 enable_nestloop, $2 jit: until the transaction ends, or until set again
SELECT set_config('enable_nestloop', $1, true), set_config('jit', $2, true)
