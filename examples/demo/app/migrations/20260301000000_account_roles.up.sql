SET lock_timeout = '5s';
CREATE TABLE roles (name text PRIMARY KEY);
INSERT INTO roles (name) VALUES ('admin'), ('member');
ALTER TABLE accounts ADD COLUMN role text;
-- Validate separately: NOT VALID takes only a brief lock, VALIDATE a weaker one.
ALTER TABLE accounts ADD CONSTRAINT accounts_role_fk FOREIGN KEY (role) REFERENCES roles (name) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_role_fk;
