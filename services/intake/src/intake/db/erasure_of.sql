-- $1 participant_id: the erasure's record, if the identifiers were erased
SELECT erased_on, basis FROM erasures WHERE participant_id = $1
