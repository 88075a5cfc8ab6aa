// MigrationLock: a PostgreSQL *session* advisory lock (pg_try_advisory_lock spin), held for as long
// as the object lives, released on destruction. Session, not transaction, locks: a transaction
// lock deadlocks against CREATE INDEX CONCURRENTLY (Flyway, golang-migrate learned this).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"

namespace su {

// The lock key for a scope (e.g. "schema-upgrade" + current database): first 8 bytes of sha256.
int64_t LockKeyFor(const std::string& scope);

// Who holds an advisory lock, from pg_locks joined with pg_stat_activity.
struct LockHolder {
  int pid = 0;
  std::string application_name;
  std::string state;
  std::string query_start;
};

class MigrationLock {
 public:
  // Tries pg_try_advisory_lock(key) every poll interval until max_wait has passed (measured on
  // clock's monotonic reading). On timeout returns kLockBusy with a message naming the holder's pid and
  // application_name and what to do. max_wait 0 means try once.
  static Result<MigrationLock> Acquire(Database* db, int64_t key, std::chrono::milliseconds max_wait,
                                       Clock* clock,
                                       std::chrono::milliseconds poll = std::chrono::milliseconds(200));
  // The lock every schema-upgrade run takes before changing db's current database: the key is
  // LockKeyFor("schema-upgrade/" + current_database()), so all resources, CLI runs and
  // controllers touching one database serialise, whatever their manifest.
  static Result<MigrationLock> AcquireForDatabase(Database* db, std::chrono::milliseconds max_wait, Clock* clock);
  MigrationLock(MigrationLock&& o) noexcept : db_(o.db_), key_(o.key_) { o.db_ = nullptr; }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;
  ~MigrationLock() { Release(); }
  // Releases early; safe to call twice.
  void Release();

 private:
  MigrationLock(Database* db, int64_t key) : db_(db), key_(key) {}
  Database* db_;
  int64_t key_;
};

// Finds the session holding advisory lock key (pid 0 if none is found).
Result<LockHolder> FindAdvisoryLockHolder(Database* db, int64_t key);

}  // namespace su
