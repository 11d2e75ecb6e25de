-- $1 milliseconds: end this transaction's session if it sits idle that long (the leader's
-- lease; local to the transaction, so the pooled connection keeps its defaults)
SELECT set_config('idle_in_transaction_session_timeout', $1, true)
