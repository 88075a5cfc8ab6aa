// MigratorRecorder: measures a rehearsal whose migrations run in a process of their own (the ory
// engine's migrator container), whose sessions are not ours. A monitor session on the copy samples,
// every interval on its own thread and in one statement each time, the popx history table and the
// relation locks of every backend connected to the copy (pg_locks joined with pg_stat_activity by
// datname), leaving out our own sessions (the monitor and `own_pids`).
//  - Which migration runs: popx applies the pending versions in order, each with its history row in
//    the same transaction, so the migration running at a sample is the first pending version whose
//    row the sample's snapshot does not show yet. A version's row appearing ends it.
//  - Durations: from its start (the migrator's "Applying migration <version>" line when it prints
//    one, else the previous migration's row appearing, else the migrator's start, which includes
//    the container's start-up) to the first sample showing its row: upper bounds, interval
//    resolution. A migration that failed (no row) ends when Finish() is called.
//  - Locks: grouped by transaction (pid, xact_start); a transaction belongs to the migration
//    running when it was first seen (a commit between the snapshot and the pg_locks read could
//    charge the next migration's first locks to the previous one: a window of one statement). Held
//    from the sample before the first one that saw it (not before the migration's start) to the
//    first sample without it. The history table, catalogs and indexes are left out (Finish).
//  - Rows: per table over the whole run, from pg_stat_user_tables on the copy (n_tup_ins/upd/del)
//    read once before the migrator starts and once after every session but ours has left the copy
//    (a backend flushes its statistics before it leaves pg_stat_activity), so the copy's own
//    making (pg_restore) is not counted and the migrator's last transaction is. Not per migration:
//    a backend flushes its counts at most once a second while it lives. The history table is left out.
// No statements: the migrations' texts are inside the migrator.
#pragma once

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

class MigratorRecorder {
 public:
  // monitor: a session on the copy, owned from now on. pending: (version, name) in apply order.
  // history_table: popx's table (schema-qualified or through the search path).
  MigratorRecorder(std::unique_ptr<Database> monitor, std::vector<int> own_pids, std::string history_table,
                   std::vector<std::pair<std::string, std::string>> pending, std::chrono::milliseconds interval);
  ~MigratorRecorder();
  MigratorRecorder(const MigratorRecorder&) = delete;

  // The migrator process is about to start (RunContext::on_migrator_start).
  void MigratorStarting();
  // The migrator announced `version` (Progress kMigrationStart from its output).
  void Announced(const std::string& version);
  // Stops sampling (after one last sample), resolves relation names and table sizes, and returns
  // the migrations that ran: each pending one whose row appeared (ok), then the one that was
  // running when the migrator stopped (ok = false, with failed_error when its version is
  // failed_version or failed_version is empty). Call once, after the engine returned.
  std::vector<RehearsedMigration> Finish(const std::string& failed_version, const std::string& failed_error);
  // After Finish: the rows touched per table over the run (see the file comment), whether they
  // were measured, and what to know about them ("" when nothing).
  const std::vector<RehearsedRowCount>& rows_touched() const { return rows_touched_; }
  bool rows_measured() const { return rows_measured_; }
  const std::string& rows_note() const { return rows_note_; }

 private:
  struct Span {
    std::string oid, mode;
    size_t migration = 0;
    long long start_ms = 0, end_ms = -1;
    bool waited = false;
  };
  long long NowMs() const;
  size_t RunningLocked() const;  // index into pending_ of the migration running now
  void SampleLocked();
  void Loop();
  // Waits (bounded) until no session but ours is connected to the copy; false when some stayed.
  bool OthersGoneLocked(std::chrono::milliseconds bound);
  // pg_stat_user_tables on the copy: oid -> (schema.name, inserted, updated, deleted).
  struct TupleCounts {
    std::string table;
    long long ins = 0, upd = 0, del = 0;
  };
  Result<std::map<std::string, TupleCounts>> ReadCountsLocked();
  // skip: oids left out (the history table's, as for locks).
  void RowsTouchedLocked(const std::set<std::string>& skip);

  const std::vector<int> own_pids_;
  const std::string history_table_;
  const std::vector<std::pair<std::string, std::string>> pending_;
  const std::chrono::milliseconds interval_;
  const std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<Database> monitor_;                // guarded by mu_
  bool history_exists_ = false;                      // guarded by mu_
  long long migrator_start_ms_ = -1;                 // guarded by mu_
  long long last_sample_ms_ = -1;                    // guarded by mu_
  std::vector<long long> row_seen_ms_;               // guarded by mu_; -1 until the row appears
  std::map<std::string, long long> announced_ms_;    // guarded by mu_
  std::map<std::string, size_t> xact_migration_;     // guarded by mu_; "pid/xact_start" -> migration
  std::vector<Span> spans_;                          // guarded by mu_
  std::map<std::string, size_t> open_;               // guarded by mu_; "pid/xact/oid/mode" -> spans_
  bool stop_ = false;                                // guarded by mu_
  std::map<std::string, TupleCounts> rows_before_;   // guarded by mu_
  bool rows_before_ok_ = false;                      // guarded by mu_
  std::vector<RehearsedRowCount> rows_touched_;      // set by Finish
  bool rows_measured_ = false;                       // set by Finish
  std::string rows_note_;                            // set by Finish
  std::thread sampler_;
};

}  // namespace su
