-- The municipalities a report's rows list: the county's the reading transaction names, or
-- every configured one when it names none
SELECT key FROM public.municipalities
WHERE public.reporting_county() IS NULL OR county = public.reporting_county()
ORDER BY key
