-- $1 year, $2 provider or NULL: teaching units paid and money per module and kind
SELECT module, kind, coalesce(sum(ue), 0) AS ue, sum(amount_cents) AS cents
FROM funding
WHERE extract(year FROM accrued_on) = $1 AND ($2::text IS NULL OR provider = $2)
GROUP BY module, kind
