// Session advisory lock with bounded try-lock spin (see advisory_lock.h).
#include "reconcilers/database/advisory_lock.h"

#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/sha256.h"

namespace su {

int64_t LockKeyFor(const std::string& scope) {
  std::string h = Sha256Hex(scope).substr(0, 15);  // 60 bits: stays positive
  return static_cast<int64_t>(std::stoull(h, nullptr, 16));
}

Result<LockHolder> FindAdvisoryLockHolder(Database* db, int64_t key) {
  // A bigint key k is stored as classid = k >> 32, objid = k & 0xffffffff, objsubid = 1.
  auto r = db->Query(
      "SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), "
      "coalesce(to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
      "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
      "AND l.classid::bigint = ($1::bigint >> 32) AND l.objid::bigint = ($1::bigint & 4294967295) "
      "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
      {std::to_string(key)});
  if (!r.ok()) return r.status();
  LockHolder h;
  if (!r->rows.empty()) {
    h.pid = std::stoi(r->Get(0, 0, "0"));
    h.application_name = r->Get(0, 1);
    h.state = r->Get(0, 2);
    h.query_start = r->Get(0, 3);
  }
  return h;
}

Result<MigrationLock> MigrationLock::Acquire(Database* db, int64_t key, std::chrono::milliseconds max_wait,
                                             Clock* clock, std::chrono::milliseconds poll) {
  auto deadline = clock->MonotonicNow() + max_wait;  // monotonic: a wall-clock step must not end or stretch the wait
  bool logged = false;
  for (;;) {
    auto r = db->Query("SELECT pg_try_advisory_lock($1::bigint)", {std::to_string(key)});
    if (!r.ok()) return r.status().WithContext("taking the migration lock");
    if (r->Get(0, 0) == "t") return MigrationLock(db, key);
    if (!logged) {
      auto h = FindAdvisoryLockHolder(db, key);
      LogInfo("lock.wait", {{"key", std::to_string(key)},
                            {"holder_pid", h.ok() ? std::to_string(h->pid) : "?"},
                            {"holder_application", h.ok() ? h->application_name : "?"},
                            {"max_wait", FormatDuration(max_wait)}});
      logged = true;
    }
    if (clock->MonotonicNow() >= deadline) {
      auto h = FindAdvisoryLockHolder(db, key);
      std::string who = "another session";
      if (h.ok() && h->pid != 0) {
        who = "pid " + std::to_string(h->pid) + " (application_name \"" + h->application_name + "\", state " +
              (h->state.empty() ? "unknown" : h->state) + ")";
      }
      return Status::Error(Code::kLockBusy,
                           "the migration lock is held by " + who + " after waiting " + FormatDuration(max_wait) +
                               "; another schema-upgrade run is migrating this database: wait for it, or check "
                               "pg_stat_activity and stop the stale session");
    }
    clock->SleepFor(poll);
  }
}

Result<MigrationLock> MigrationLock::AcquireForDatabase(Database* db, std::chrono::milliseconds max_wait,
                                                        Clock* clock) {
  auto dbname = db->Query("SELECT current_database()");
  if (!dbname.ok()) return dbname.status().WithContext("taking the migration lock");
  return Acquire(db, LockKeyFor("schema-upgrade/" + dbname->Get(0, 0)), max_wait, clock);
}

void MigrationLock::Release() {
  if (!db_) return;
  (void)db_->Query("SELECT pg_advisory_unlock($1::bigint)", {std::to_string(key_)});
  db_ = nullptr;
}

}  // namespace su
