-- $1 provider, $2 site, $3 county key: where a provider's site lies
INSERT INTO public.sites (provider, site, county) VALUES ($1, $2, $3)
