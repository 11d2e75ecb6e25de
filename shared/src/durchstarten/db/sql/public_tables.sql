-- The tables of the service's schema
SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename
