-- $1 key (AGS), $2 county key, $3 name: one municipality of the county files
INSERT INTO public.municipalities (key, county, name) VALUES ($1, $2, $3)
