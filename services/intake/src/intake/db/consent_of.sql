-- $1 participant_id: the consent held, if any
SELECT scopes, given_on, expires_on FROM consents WHERE participant_id = $1
