SET lock_timeout = '5s';
ALTER TABLE accounts ADD COLUMN display_name text;
-- A function body with semicolons inside dollar quotes.
CREATE FUNCTION account_label(a accounts) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF a.display_name IS NULL THEN RETURN a.email; END IF;
  RETURN a.display_name || ' <' || a.email || '>';
END;
$$;
