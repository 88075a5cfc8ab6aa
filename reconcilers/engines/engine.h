// Engine: one migration system (sql folder, Drizzle Kit folder, or an Ory binary in an image).
// An engine observes what is applied and pending, and applies or rolls back, writing its own
// history table (byte-compatible with the tool it imitates) and our audit log.
//
// Contract for every engine:
//  - Observe() writes nothing (it must work on a database where no history table exists yet).
//  - Apply() is called with the migration lock held on the same Database (the caller takes it),
//    applies pending migrations in order, and stops at the first failure. Each migration's history
//    row is written in the same transaction as the migration, so a crash at any instant leaves each
//    migration either fully applied and recorded, or not at all (no "dirty" state).
//  - Apply() twice in a row: the second run applies nothing.
//  - Errors name the file, the statement (index, line and summary) and what to do next.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"
#include "reconcilers/sqltext/lint.h"

namespace su {

struct PendingMigration {
  std::string version;
  std::string name;
  std::string file;                   // path, empty for ory (migrations inside the image)
  std::string checksum;               // sha256 hex of the file
  bool no_transaction = false;
  bool has_down = false;
  std::vector<std::string> summary;   // SummarizeStatement() of each statement
  std::vector<LintFinding> findings;
};

struct AppliedMigration {
  std::string version;
  std::string name;
  std::string checksum;    // as recorded; empty when unknown (applied by another tool)
  std::string applied_at;  // RFC 3339 when known
};

struct DriftedMigration {
  std::string version;
  std::string name;
  std::string file;
  std::string recorded_checksum;
  std::string file_checksum;
  bool accepted = false;  // listed in policy.acceptDrift
};

struct EngineState {
  std::vector<AppliedMigration> applied;   // oldest first
  std::vector<PendingMigration> pending;   // in apply order
  std::vector<DriftedMigration> drift;
  std::vector<std::string> unknown;        // versions applied in the database with no file here
  std::vector<std::string> notes;          // anything else worth telling (e.g. an invalid index)
  std::string current_version;             // highest applied, empty if none
  std::string latest_version;              // highest available, empty if none
};

struct Progress {
  enum class Event { kMigrationStart, kStatement, kMigrationDone, kRetry };
  Event event = Event::kMigrationStart;
  std::string version;
  std::string name;
  int migration_index = 0;   // 1-based
  int migrations_total = 0;
  int statement_index = 0;   // 1-based
  int statements_total = 0;
  long long elapsed_ms = 0;
  std::string message;       // for kRetry: why
};

struct RunContext {
  std::string resource = "cli";   // "namespace/name" of the SchemaUpgrade, for audit rows
  std::string actor;              // user@host of who ran it
  std::chrono::milliseconds lock_timeout{5000};
  std::chrono::milliseconds statement_timeout{1800000};
  std::vector<std::string> accept_drift;  // versions; "*" accepts all
  // A migration that fails with SQLSTATE 55P03 (lock_timeout) is rolled back and retried this
  // many times, backing off from lock_retry_initial doubling to lock_retry_max (on clock).
  int lock_retries = 5;
  std::chrono::milliseconds lock_retry_initial{1000};
  std::chrono::milliseconds lock_retry_max{60000};
  Clock* clock = RealClock();
  std::function<void(const Progress&)> on_progress;  // may be empty
  std::function<bool()> cancelled;                   // may be empty; checked between statements
  // Called with the backend pid before each statement batch runs, so a watcher can observe
  // blockers and cancel. May be empty.
  std::function<void(int backend_pid)> on_session;
};

struct AppliedStep {
  std::string version;
  std::string name;
  long long duration_ms = 0;
  int statements = 0;
};

struct RunReport {
  std::vector<AppliedStep> steps;  // what this run applied (or rolled back), in order
  Status status;                   // ok, or the failure (code kLockTimeout after retries ran out)
  std::string failed_version;
  std::string failed_file;
  int failed_statement_index = 0;  // 1-based, 0 when not statement-specific
  int failed_statement_line = 0;
  std::string failed_statement;    // summary
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  virtual Result<EngineState> Observe(Database* db) = 0;
  virtual RunReport Apply(Database* db, const RunContext& ctx) = 0;
  // Rolls back applied migrations newer than to_version, newest first. Checks that every one has
  // a down migration before running any. Default: not supported by this engine.
  virtual RunReport Rollback(Database* db, const std::string& to_version, const RunContext& ctx) {
    RunReport r;
    r.status = Status::Invalid("engine " + name() + " has no down migrations; rollback is not supported");
    return r;
  }
};

}  // namespace su
