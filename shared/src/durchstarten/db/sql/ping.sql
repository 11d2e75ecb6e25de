-- Readiness: the database answers
SELECT true
