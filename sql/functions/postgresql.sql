-- Helpers that let every indicator SQL file run unchanged on PostgreSQL and SQLite.
-- (On SQLite the same two functions are registered by the application on each connection.)
CREATE OR REPLACE FUNCTION hours_between(a timestamp, b timestamp) RETURNS double precision
    LANGUAGE SQL IMMUTABLE AS $$ SELECT EXTRACT(EPOCH FROM (b - a)) / 3600.0 $$;
CREATE OR REPLACE FUNCTION days_between(a date, b date) RETURNS integer
    LANGUAGE SQL IMMUTABLE AS $$ SELECT b - a $$;
