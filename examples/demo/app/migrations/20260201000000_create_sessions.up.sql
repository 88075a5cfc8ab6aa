SET lock_timeout = '5s';
CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts(id),
  expires_at timestamptz NOT NULL
);
