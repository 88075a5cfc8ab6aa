-- schema-upgrade: no-transaction
-- Built without blocking writes; after a failure the invalid index is dropped and rebuilt.
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_expires_at_idx ON sessions (expires_at);
