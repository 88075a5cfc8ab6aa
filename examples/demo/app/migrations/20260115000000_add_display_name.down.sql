DROP FUNCTION account_label(accounts);
ALTER TABLE accounts DROP COLUMN display_name;
