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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"
#include "reconcilers/sqltext/lint.h"

namespace su {

// The full texts of a migration's statements, sharing one buffer (normally the file's text): a
// plan copies EngineState several times (plan, status, output), and a copy here is a reference
// count, so a large file is held once. Immutable.
class StatementList {
 public:
  StatementList() = default;
  // Owns copies of the texts (small lists: tests, drizzle parts).
  StatementList(std::initializer_list<std::string> texts) : StatementList(std::vector<std::string>(texts)) {}
  explicit StatementList(std::vector<std::string> texts) {
    auto owned = std::make_shared<std::vector<std::string>>(std::move(texts));
    std::vector<std::string_view> views(owned->begin(), owned->end());
    d_ = std::make_shared<const Data>(Data{std::move(owned), std::move(views)});
  }
  // Views into a buffer that `owner` keeps alive.
  StatementList(std::shared_ptr<const void> owner, std::vector<std::string_view> views)
      : d_(std::make_shared<const Data>(Data{std::move(owner), std::move(views)})) {}

  bool empty() const { return !d_ || d_->views.empty(); }
  size_t size() const { return d_ ? d_->views.size() : 0; }
  std::string_view operator[](size_t i) const { return d_->views[i]; }
  std::vector<std::string_view>::const_iterator begin() const { return d_ ? d_->views.begin() : kEmpty().begin(); }
  std::vector<std::string_view>::const_iterator end() const { return d_ ? d_->views.end() : kEmpty().end(); }

 private:
  struct Data {
    std::shared_ptr<const void> owner;
    std::vector<std::string_view> views;
  };
  static const std::vector<std::string_view>& kEmpty() {
    static const std::vector<std::string_view> empty;
    return empty;
  }
  std::shared_ptr<const Data> d_;
};

// Expand/contract (docs/expand-contract.md): an expand migration (the default) is backward
// compatible and runs before the image bump; a contract migration (`-- schema-upgrade:
// phase=contract` in the file's header) runs only once the new version is verified, no instance
// of the old one remains, and policy.contract's soak and approval allow.
enum class MigrationPhase { kExpand, kContract };
inline const char* MigrationPhaseName(MigrationPhase p) { return p == MigrationPhase::kContract ? "contract" : "expand"; }

struct PendingMigration {
  std::string version;
  std::string name;
  std::string file;                   // path, empty for ory (migrations inside the image)
  std::string checksum;               // sha256 hex of the file
  bool no_transaction = false;
  bool has_down = false;
  std::string down_checksum;          // sha256 hex of the down file (empty: none, or no down files)
  std::vector<std::string> summary;   // SummarizeStatement() of each statement
  StatementList statements;           // full text of each statement (empty for ory: inside the image)
  std::vector<LintFinding> findings;
  MigrationPhase phase = MigrationPhase::kExpand;  // from the file's `phase=` directive
};

// How many of `pending` (in apply order) come before the first contract migration: what an
// expand-only run applies.
inline size_t ExpandPrefix(const std::vector<PendingMigration>& pending) {
  size_t n = 0;
  while (n < pending.size() && pending[n].phase == MigrationPhase::kExpand) ++n;
  return n;
}

inline bool HasContractSteps(const std::vector<PendingMigration>& pending) {
  return ExpandPrefix(pending) < pending.size();
}

// True when a contract migration comes before an expand migration in `pending` (apply order):
// no run can keep both the phases and the version order (the plan refuses it).
inline bool ContractBeforeExpand(const std::vector<PendingMigration>& pending) {
  for (size_t i = ExpandPrefix(pending); i < pending.size(); ++i) {
    if (pending[i].phase == MigrationPhase::kExpand) return true;
  }
  return false;
}

// A pending backfill migration as the plan shows it (docs/backfill.md), read by Observe from the
// file's directive, pg_class and the progress row of an interrupted run. Not in the plan hash:
// the estimate and the progress move, what will run does not.
struct PendingBackfill {
  std::string version;   // the pending migration's version (drizzle: its journal tag)
  std::string file;      // the migration file
  std::string table;     // as the directive writes it (a name or schema.name)
  std::string key;       // the key column it walks
  long long batch = 0;   // first batch size, rows
  long long min_batch = 0;
  long long max_batch = 0;
  bool adaptive = true;  // sized to batch_time_ms between min and max; false: `batch` throughout
  long long batch_time_ms = 0;
  long long pause_ms = 0;
  long long max_lag_ms = 0;  // replica lag above which it waits; 0: not checked
  bool table_exists = true;      // false: an earlier migration of this plan creates the table
  long long rows_estimate = -1;  // pg_class.reltuples; -1: unknown (never analyzed, or no table)
  // An interrupted run (its progress row is there): what it did, and the key it resumes after
  // ("" when no batch committed yet).
  bool interrupted = false;
  long long rows_done = 0;
  long long batches = 0;
  std::string resume_after;
  // The text of EngineState::notes that describes this backfill (so a filter of backfills, e.g.
  // an upgrade-path step's cap, drops its note too).
  std::string note;
};

struct AppliedMigration {
  std::string version;
  std::string name;
  std::string checksum;    // as recorded; empty when unknown (applied by another tool)
  std::string applied_at;  // RFC 3339 when known
};

// A vector whose copies share one buffer until one of them is changed (copy on write): an
// EngineState with thousands of applied migrations is copied by every pass over a cached
// observation and by the pass's outcome, and each copy would copy every string. Read through the
// const interface (or as a const std::vector&); the changing calls copy the buffer first when
// another copy holds it. A copy may be handed to another thread; one object is not used by two
// threads at once (as with std::vector).
template <typename T>
class SharedVector {
 public:
  using value_type = T;
  using const_iterator = typename std::vector<T>::const_iterator;
  using const_reverse_iterator = typename std::vector<T>::const_reverse_iterator;

  SharedVector() = default;
  SharedVector(std::vector<T> v) : d_(std::make_shared<std::vector<T>>(std::move(v))) {}  // NOLINT: implicit
  SharedVector(std::initializer_list<T> l) : SharedVector(std::vector<T>(l)) {}

  const std::vector<T>& get() const { return d_ ? *d_ : Empty(); }
  operator const std::vector<T>&() const { return get(); }  // NOLINT: implicit
  bool empty() const { return get().empty(); }
  size_t size() const { return get().size(); }
  const T& operator[](size_t i) const { return get()[i]; }
  const T& front() const { return get().front(); }
  const T& back() const { return get().back(); }
  const_iterator begin() const { return get().begin(); }
  const_iterator end() const { return get().end(); }
  const_reverse_iterator rbegin() const { return get().rbegin(); }
  const_reverse_iterator rend() const { return get().rend(); }
  bool operator==(const SharedVector& o) const { return get() == o.get(); }

  void push_back(T v) { Mut().push_back(std::move(v)); }
  template <typename... A>
  T& emplace_back(A&&... a) { return Mut().emplace_back(std::forward<A>(a)...); }
  void reserve(size_t n) { Mut().reserve(n); }
  void clear() { d_.reset(); }
  // The buffer, this object's own (copied first when shared).
  std::vector<T>& Mut() {
    if (!d_) {
      d_ = std::make_shared<std::vector<T>>();
    } else if (d_.use_count() > 1) {
      d_ = std::make_shared<std::vector<T>>(*d_);
    } else {
      // The last other copy may just have been dropped by another thread: its reads happen
      // before our writes (pairs with the release in shared_ptr's count decrement).
      std::atomic_thread_fence(std::memory_order_acquire);
    }
    return *d_;
  }

 private:
  static const std::vector<T>& Empty() {
    static const std::vector<T> empty;
    return empty;
  }
  std::shared_ptr<std::vector<T>> d_;
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
  SharedVector<AppliedMigration> applied;  // oldest first (copies share it)
  std::vector<PendingMigration> pending;   // in apply order
  std::vector<DriftedMigration> drift;
  std::vector<std::string> unknown;        // versions applied in the database with no file here
  // The unknown versions that are newer than every migration the source knows: the database is
  // ahead of this source (a target older than the database: a downgrade). A subset of unknown.
  std::vector<std::string> ahead;
  std::vector<std::string> notes;          // anything else worth telling (e.g. an invalid index)
  std::vector<PendingBackfill> backfills;  // the pending backfill migrations, in apply order (each also a note)
  std::string current_version;             // highest applied, empty if none
  std::string latest_version;              // highest available, empty if none
  // Live row estimates (pg_class.reltuples, 0 when never analyzed) of the existing tables the
  // pending migrations' lint findings name; filled by the caller (AddLiveTableRows), not by
  // Observe. Empty: not known (offline). Ranks findings; a table listed here exists now.
  std::map<std::string, long long> table_rows;
  // The source uses expand/contract phases: a pending migration is a contract one, or (as far as
  // the engine looked: sql only when lint asked and a pending expand file has a destructive
  // finding; drizzle always) an applied one was. The lint pairing keys on it (PairExpandFindings).
  bool uses_phases = false;
};

struct Progress {
  // kBackfill: after each committed batch of a backfill (sql engine, docs/backfill.md), and while
  // it is throttled (message says why).
  enum class Event { kMigrationStart, kStatement, kMigrationDone, kRetry, kBackfill };
  Event event = Event::kMigrationStart;
  std::string version;
  std::string name;
  int migration_index = 0;   // 1-based
  int migrations_total = 0;
  int statement_index = 0;   // 1-based
  int statements_total = 0;
  long long elapsed_ms = 0;
  std::string message;       // for kRetry: why; for kBackfill: why it is throttled ("" when not)
  // Backfills (kBackfill): rows done (over every run), the table's estimated rows, this run's rate
  // and the estimated seconds left (0 when unknown), the next batch's size and the last key done.
  long long rows_done = 0;
  long long rows_total = 0;
  double rows_per_second = 0;
  long long eta_seconds = 0;
  long long batch_size = 0;
  std::string last_key;
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
  // The migrations of the plan that passed the gates (approval, lint, window). When set, Apply()
  // compares what it finds pending *under the migration lock* with this list before changing
  // anything: a pending migration that is not listed, or whose up or down checksum differs, makes
  // the run stop with kGated and RunReport::plan_changed (nothing applied). Listed migrations that
  // are applied by now (by someone else) are simply not pending any more. Rollback()s check the
  // down files they run against the down_checksum listed here the same way.
  std::optional<std::vector<PendingMigration>> approved;
  // Engines that run a migrator process (ory): called right before it starts (a rehearsal times
  // the first migration from here when the migrator prints no per-migration lines). May be empty.
  std::function<void()> on_migrator_start;
  // Called before each migration (up or down) starts, after the previous one committed. A non-ok
  // status stops the run there, before that migration changes anything, and becomes the run's
  // status (e.g. the maintenance window closed). May be empty.
  std::function<Status(const std::string& version)> before_migration;
  // Upgrade paths (policy.stepThrough, docs/upgrade-paths.md): Apply() applies only the pending
  // migrations whose version is not newer than this (VersionLess); the newer ones stay pending for
  // a later step, and are not compared with `approved`. "": every pending migration.
  std::string up_to;
  // Expand phase of an expand/contract upgrade: apply the pending migrations before the first
  // contract migration (ExpandPrefix) and stop there, successfully. CheckApproved still covers
  // the whole pending set.
  bool expand_only = false;
  // A rehearsal on a scratch copy (reconcilers/rehearsal): failure messages leave out the real
  // run's advice (retries, what is committed); the rehearsal adds its own.
  bool rehearsal = false;
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
  bool plan_changed = false;       // stopped before any change: the pending set differs from ctx.approved
  // The failure (status kFailed) is retried with policy.retries' backoff up to retries.limit
  // times in a row before it is permanent (a migration Job on Kubernetes; see
  // ContainerRuntime::RetriesFailedRuns). False: permanent at once.
  bool retry_with_backoff = false;
  // The database's version after the run (success or failure), read back from the history table;
  // unset when the engine does not say or could not read it. "" means nothing is applied.
  std::optional<std::string> current_version;
};

// The check behind RunContext::approved, for engines: Ok when every migration of `pending` is in
// ctx.approved with the same checksum (and, when check_down, the same down checksum); otherwise
// kGated naming what changed. Ok when ctx.approved is unset.
inline Status CheckApproved(const std::vector<PendingMigration>& pending, const RunContext& ctx) {
  if (!ctx.approved) return Status::Ok();
  std::string changed;
  for (const auto& m : pending) {
    const PendingMigration* a = nullptr;
    for (const auto& x : *ctx.approved) {
      if (x.version == m.version) a = &x;
    }
    std::string why;
    if (!a) {
      why = "new since the plan";
    } else if (a->checksum != m.checksum) {
      why = "up file changed";
    } else if (a->down_checksum != m.down_checksum) {
      why = "down file changed";
    }
    if (!why.empty()) changed += (changed.empty() ? "" : ", ") + m.version + "_" + m.name + " (" + why + ")";
  }
  if (changed.empty()) return Status::Ok();
  return Status::Error(Code::kGated, "the migrations changed after the plan passed its gates: " + changed +
                                         ". Nothing was applied; the next pass plans again (a new plan needs "
                                         "its own approval).");
}

// Orders migration versions: all-digit versions by number (leading zeros ignored, so 14- and
// 20-digit popx versions compare right), anything else as strings.
inline bool VersionLess(const std::string& a, const std::string& b) {
  auto digits = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
  if (digits(a) && digits(b)) {
    std::string x = a.substr(std::min(a.find_first_not_of('0'), a.size()));
    std::string y = b.substr(std::min(b.find_first_not_of('0'), b.size()));
    return x.size() != y.size() ? x.size() < y.size() : x < y;
  }
  return a < b;
}

// True when `version` is past ctx.up_to and must stay pending in this run (see RunContext::up_to).
inline bool BeyondUpTo(const std::string& version, const RunContext& ctx) {
  return !ctx.up_to.empty() && VersionLess(ctx.up_to, version);
}

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  virtual Result<EngineState> Observe(Database* db) = 0;
  // For a cheap re-observation (the controller's ObservationCache): SQL of a scalar subquery
  // whose value changes whenever what Observe reads from the database changes (versions, names,
  // checksums, times), so a caller can ride it along another query; it fails (42P01) when the
  // history does not exist. "" when the engine has none: every pass observes fully.
  virtual std::string HistoryMarkSql() const { return ""; }
  // A stamp of the migration source that changes whenever Observe's reading of it could (files
  // added, removed, renamed or changed: sizes, inodes, times), taken without reading any file.
  // "" when it cannot be told that cheaply.
  virtual Result<std::string> SourceStamp() { return std::string(); }
  virtual RunReport Apply(Database* db, const RunContext& ctx) = 0;
  // Rolls back exactly `versions` (applied migrations, in the order given: newest applied first),
  // checking that every one has a down migration (and, with ctx.approved, that its down file is
  // the one listed there) before running any. Default: not supported by this engine.
  virtual RunReport RollbackVersions(Database* db, const std::vector<std::string>& versions, const RunContext& ctx) {
    RunReport r;
    r.status = Status::Invalid("engine " + name() + " has no down migrations; rollback is not supported");
    return r;
  }
  // Rolls back applied migrations newer than to_version, newest first. Checks that every one has
  // a down migration before running any. Default: not supported by this engine.
  virtual RunReport Rollback(Database* db, const std::string& to_version, const RunContext& ctx) {
    RunReport r;
    r.status = Status::Invalid("engine " + name() + " has no down migrations; rollback is not supported");
    return r;
  }
};

}  // namespace su
