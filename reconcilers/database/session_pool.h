// SessionPool: PostgreSQL sessions kept open between reconcile passes, per database (per DSN), so
// a pass over a resource already at its target pays a round trip instead of a connection (TCP,
// SCRAM key derivation, a new backend).
//
// Contract:
//   - Acquire(dsn, app) hands out a session as a Database whose destruction returns it (RAII). It
//     is an idle session of that DSN when there is a healthy one (most recently used first), else
//     a new one while fewer than max_per_database are open, else Acquire waits for a return.
//   - A reused session costs no round trip of the pool's when the lease only reads: its dead
//     backend (terminated, server restarted) is seen without one (Database::Healthy) and a
//     connection lost silently is replaced at the lease's first statement, which is re-run once
//     on a new session: callers never see a dead pooled session. The session is named for its
//     user (application_name = app) before the first statement that can leave anything behind
//     (advisory locks, settings, scripts; see LeavesNoSessionState in the .cc), in the same round
//     trip when that statement is a SELECT (a libpq pipeline); a lease that only reads (the
//     observation of a resource at its target) runs under the idle name.
//   - Returned sessions are reused only when they are clean: connected, transaction state idle,
//     no error while a transaction was open, never Cancel()led (a cancel request can arrive late
//     and hit the next user's statement). Anything else is closed. A clean session that ran
//     something that can leave state, or carries a user's name, is reset as by DISCARD ALL (and
//     named kIdleSessionName) before it goes back, in one round trip: settings (lock_timeout,
//     statement_timeout, search_path, role, application_name...), temporary tables, prepared
//     statements, LISTENs and session advisory locks never outlive the lease. No lock survives
//     a return, including a MigrationLock still held by mistake. A lease that only read goes
//     back as it is (nothing to reset): no round trip.
//   - Sessions idle for longer than idle_timeout are closed by the pool's own thread, and the one
//     idle the longest is closed when more than max_idle_total are idle over all databases.
//   - Sessions a pass opens besides its own (the blocked-session watch, cancel requests) are not
//     taken from the pool and not counted against max_per_database: a pass that holds its pooled
//     session must never wait for a second one (with every slot held that way, nobody would get
//     one). So a database sees at most max_per_database pooled sessions plus, while migrations
//     or restores run, one watch session (and a momentary cancel session) per migrating pass.
//   - The DSN is the key and is never logged. Thread-safe. Leases may outlive the pool: they are
//     then closed when returned.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"

namespace su {

// application_name of a session waiting in the pool (pg_stat_activity shows it so).
inline constexpr const char* kIdleSessionName = "schema-upgrade-idle";

// Opens a real session (ConnectPostgres in production).
using SessionOpener =
    std::function<Result<std::unique_ptr<Database>>(const std::string& dsn, const std::string& application_name)>;

struct SessionPoolOptions {
  SessionOpener open;  // required
  // Sessions open at once per DSN (leased + idle). The controller's default equals its default
  // worker count, so two workers never wait for each other.
  int max_per_database = 2;
  // An idle session is closed after this long. Longer than the controller's default resync (5m),
  // so sessions survive from one resync to the next.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
  // Idle sessions kept over all databases: past it, the one idle the longest is closed. A
  // controller of many resources, each on its own database, must not hold a session per database
  // (PostgreSQL's default max_connections is 100).
  int max_idle_total = 32;
};

struct SessionPoolStats {
  int open = 0;     // sessions open now (idle + in use + being opened)
  int idle = 0;     // open and waiting in the pool
  int in_use = 0;   // leased or being opened
  int waiting = 0;  // Acquire calls waiting for a free slot
  long long opened_total = 0;     // new sessions opened
  long long reused_total = 0;     // leases served by an idle session
  long long discarded_total = 0;  // sessions closed because they were dead or not clean
  long long idle_closed_total = 0;
};

class SessionPool {
 public:
  explicit SessionPool(SessionPoolOptions options);
  // Close()s.
  ~SessionPool();
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  // A session of dsn named application_name; see the contract above. Errors are the opener's
  // (kUnavailable: server unreachable; kInvalidArgument: bad DSN), or kCancelled after Close().
  Result<std::unique_ptr<Database>> Acquire(const std::string& dsn, const std::string& application_name);

  // Closes idle sessions, fails waiting and later Acquire calls (kCancelled), stops the idle
  // reaper. Sessions in use are closed when returned. Idempotent.
  void Close();

  SessionPoolStats Stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace su
