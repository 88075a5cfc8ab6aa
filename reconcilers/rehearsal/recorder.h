// RehearsalRecorder: a Database decorator around the rehearsal's migration session that runs each
// migration statement on its own (so each has its duration and row count) and a lock sampler: a
// second session on the copy reads pg_locks for the migration's backend every sample_interval
// while a migration runs, and once more right after each statement, so a lock taken by a quick
// statement is seen too (transactional locks are held to COMMIT). Locks first seen while the engine
// runs its own statements (BEGIN, SET, history rows) are not attributed to any migration.
// Only for scratch copies: a batch the engine sends as one implicit transaction runs statement by
// statement here. Thread-safe where it must be: the sampler thread and the caller share `mu_`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "reconcilers/database/database.h"
#include "reconcilers/rehearsal/rehearsal.h"

namespace su {

// A lock a migration held on the copy: the relation's oid, mode, the statement that first held it
// (0: not known) and when (ms on the recorder's own clock; end -1: still held).
struct LockSpan {
  std::string oid, mode;
  int statement = 0;
  long long start_ms = 0, end_ms = -1;
  bool waited = false;
};

// Resolves the spans' relations on the copy through `monitor` (once everything committed, so tables
// a migration created are visible), leaves out catalogs, indexes and `skip_oids` (the engine's own
// history tables), and fills (*migrations)[k].locks and .tables from spans[k] (parallel vectors).
void AttachLocks(Database* monitor, const std::vector<std::vector<LockSpan>>& spans,
                 std::vector<RehearsedMigration>* migrations, const std::set<std::string>& skip_oids = {});

class RehearsalRecorder : public Database {
 public:
  // inner: the migration session; monitor: a second session on the same database.
  RehearsalRecorder(Database* inner, std::unique_ptr<Database> monitor, std::chrono::milliseconds interval);
  ~RehearsalRecorder() override;

  // From the engine's progress events. `statements` are the migration's texts (to recognise them).
  void BeginMigration(const std::string& version, const std::string& name, const StatementList& statements);
  void EndMigration(const std::string& version);
  // Closes the open migration, stops the sampler, and resolves relation names and table sizes on
  // the copy. Call once, after the engine returned.
  std::vector<RehearsedMigration> Finish();

  Result<QueryResult> Query(const std::string& sql, const std::vector<SqlValue>& params = {}) override;
  Status ExecScript(const std::string& sql) override;
  Status ExecBatch(const std::vector<std::string_view>& statements, int* failed) override;
  int BackendPid() override { return inner_->BackendPid(); }
  Status Cancel() override { return inner_->Cancel(); }
  bool Healthy() override { return inner_->Healthy(); }
  TxState TransactionState() override { return inner_->TransactionState(); }

 private:
  using Span = LockSpan;
  struct Open {
    RehearsedMigration m;
    StatementList statements;
    int last_index = 0;
    long long start_ms = 0;
    std::vector<Span> spans;
    std::map<std::pair<std::string, std::string>, size_t> open;  // (oid, mode) -> spans index
    std::set<std::pair<std::string, std::string>> engine_keys;   // first seen outside a statement
  };
  long long NowMs() const;
  int StatementIndex(std::string_view text);  // 1-based, 0: not a migration statement
  Status RunStatement(std::string_view text, int index);
  void Sample();                               // takes mu_
  void SampleLocked();
  void CloseMigrationLocked();
  void Loop();

  Database* inner_;
  const int pid_;
  const std::chrono::milliseconds interval_;
  const std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<Database> monitor_;          // guarded by mu_
  std::unique_ptr<Open> cur_;                  // guarded by mu_
  int current_statement_ = 0;                  // guarded by mu_
  long long statement_start_ms_ = 0;           // guarded by mu_
  std::vector<RehearsedMigration> done_;       // guarded by mu_
  std::vector<std::vector<Span>> done_spans_;  // guarded by mu_, parallel to done_
  bool stop_ = false;                          // guarded by mu_
  std::thread sampler_;
};

}  // namespace su
