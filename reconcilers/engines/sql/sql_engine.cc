// The sql engine's Observe/Apply/Rollback orchestration (see sql_engine.h). Folder reading,
// statement preparation, history tables and per-file execution live in their own files.
#include "reconcilers/engines/sql/sql_engine.h"

#include <charconv>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reconcilers/base/file_cache.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/base/text_check.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/sql/sql_backfill.h"
#include "reconcilers/engines/sql/sql_folder.h"
#include "reconcilers/engines/sql/sql_history.h"
#include "reconcilers/engines/sql/sql_prepare.h"
#include "reconcilers/engines/sql/sql_runner.h"
#include "reconcilers/sqltext/lint.h"

namespace su {
namespace {

constexpr const char* kEngine = "sql";

bool Listed(const std::vector<std::string>& list, const std::string& version) {
  for (const auto& v : list) {
    if (v == "*" || v == version) return true;
  }
  return false;
}

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Index names (as regclass text, quoted where needed) among `names` that exist and are invalid.
Result<std::vector<std::string>> FindInvalidIndexes(Database* db, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    auto r = db->Query(
        "SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indexrelid = to_regclass($1) AND NOT "
        "i.indisvalid",
        {n});
    if (!r.ok()) return r.status().WithContext("looking for an invalid index " + n);
    for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
  }
  return out;
}

// Everything Observe and Apply need, read in one pass.
struct Snapshot {
  EngineState state;
  std::vector<PreparedMigration> pending;  // parallel to state.pending
  std::vector<std::vector<std::string>> invalid_indexes;  // parallel to pending
};


class SqlEngine : public Engine {
 public:
  SqlEngine(FileSystem* fs, std::string folder, std::string schema, std::vector<std::string> accept_drift,
            bool sets_lock_timeout)
      : fs_(fs),
        folder_(std::move(folder)),
        schema_(std::move(schema)),
        accept_drift_(std::move(accept_drift)),
        sets_lock_timeout_(sets_lock_timeout) {}

  std::string name() const override { return kEngine; }

  Result<EngineState> Observe(Database* db) override {
    SU_ASSIGN_OR_RETURN(Snapshot snap, Load(db, /*lint=*/true, accept_drift_));
    return std::move(snap.state);
  }

  RunReport Apply(Database* db, const RunContext& ctx) override { return WithVersion(db, ApplyPending(db, ctx)); }

  std::string HistoryMarkSql() const override {
    SqlHistory h(nullptr, schema_);
    // Every row version of both tables ReadApplied reads: each row's transaction id, its place
    // (ctid) and its key columns, hashed to 64 bits and summed (order-free: no sort, no join),
    // with the row counts. Any INSERT, UPDATE or DELETE writes a new row version (a new xmin and
    // ctid) or removes one, so the mark moves; a table rewrite (VACUUM FULL) moves it too, which
    // only costs a full read. The key columns keep a row written again under a reused
    // transaction id at the same place (a point-in-time restore) from looking unchanged. About
    // 3 ms for 5000 rows, against 20 ms for an md5 over the joined, sorted contents.
    auto part = [](const std::string& table, const std::string& columns) {
      return "(SELECT count(*)::text || ':' || coalesce(sum(hashtextextended(t.xmin::text || '/' || t.ctid::text || "
             "'/' || " + columns + ", 0)), 0)::text FROM " + table + " t)";
    };
    return "(" + part(h.MigrationTable(), "t.version") + " || '|' || " +
           part(h.ChecksumTable(), "t.version || '/' || t.checksum") + ")";
  }

  Result<std::string> SourceStamp() override {
    // Every entry of the folder, not only the migration files: a superset that cannot miss one
    // Observe reads (the folder is flat), and needs no parsing or pairing of names.
    auto entries = fs_->StatDirEntries(folder_);
    if (!entries.ok()) return std::string();  // no stamps here (fakes), or no folder: no cheap observation
    std::string stamp;
    stamp.reserve(entries->size() * 112);
    char buf[24];
    auto number = [&](auto v) {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
      stamp += '|';
      stamp.append(buf, end);
    };
    for (const auto& e : *entries) {
      stamp += e.name;
      number(e.stamp.device);
      number(e.stamp.inode);
      number(e.stamp.size);
      number(e.stamp.mtime_ns);
      number(e.stamp.ctime_ns);
      stamp += '\n';
    }
    return Sha256Hex(stamp);
  }

  RunReport ApplyPending(Database* db, const RunContext& ctx) {
    RunReport report;
    SqlHistory history(db, schema_);
    AuditLog audit(db, schema_);
    if (!Prepare(&history, &audit, &report)) return report;
    const std::string actor = ctx.actor.empty() ? CurrentActor() : ctx.actor;  // once per run, not per row

    std::vector<std::string> accept = accept_drift_;
    accept.insert(accept.end(), ctx.accept_drift.begin(), ctx.accept_drift.end());
    auto loaded = Load(db, /*lint=*/false, accept);
    if (!loaded.ok()) {
      report.status = loaded.status();
      return report;
    }
    Snapshot& snap = *loaded;
    if (!ctx.up_to.empty()) {  // an upgrade-path step: the newer files wait for a later step
      Snapshot kept;
      for (size_t i = 0; i < snap.pending.size(); ++i) {
        if (BeyondUpTo(snap.state.pending[i].version, ctx)) continue;
        kept.state.pending.push_back(std::move(snap.state.pending[i]));
        kept.pending.push_back(std::move(snap.pending[i]));
        kept.invalid_indexes.push_back(std::move(snap.invalid_indexes[i]));
      }
      snap.state.pending = std::move(kept.state.pending);
      snap.pending = std::move(kept.pending);
      snap.invalid_indexes = std::move(kept.invalid_indexes);
    }

    // What is pending now, under the lock, must be what passed the gates (no file added or edited
    // since the plan was made).
    if (Status changed = CheckApproved(snap.state.pending, ctx); !changed.ok()) {
      report.status = changed;
      report.plan_changed = true;
      return report;
    }

    // Drift: refuse before anything changes, or record what the user accepted.
    std::string refused;
    for (const auto& d : snap.state.drift) {
      if (!d.accepted) refused += (refused.empty() ? "" : ", ") + d.version + "_" + d.name + " (" + d.file + ")";
    }
    if (!refused.empty()) {
      report.status = Status::Error(
          Code::kGated, "applied migration file(s) changed since they ran: " + refused +
                            ". Nothing was applied. Restore the files as they were applied, or accept the change "
                            "by listing the version(s) in policy.acceptDrift.");
      return report;
    }
    for (const auto& d : snap.state.drift) {
      Status s = history.UpdateChecksum(d.version, d.name, d.file_checksum);
      if (s.ok()) {
        AuditEntry e;
        e.resource = ctx.resource;
        e.engine = kEngine;
        e.version = d.version;
        e.name = d.name;
        e.direction = "drift-accepted";
        e.checksum = d.file_checksum;
        e.status = "succeeded";
        e.actor = actor;
        e.detail = d.file + ": recorded checksum " + d.recorded_checksum + " replaced by " + d.file_checksum;
        s = audit.Record(e);
      }
      if (!s.ok()) {
        report.status = s;
        return report;
      }
      LogInfo("sql_drift_accepted", {{"version", d.version}, {"file", d.file}});
    }

    // The expand phase stops before the first contract migration (it runs after verify and soak).
    const int total = static_cast<int>(ctx.expand_only ? ExpandPrefix(snap.state.pending) : snap.pending.size());
    for (int i = 0; i < total; ++i) {
      const PreparedMigration& m = snap.pending[i];
      if (ctx.cancelled && ctx.cancelled()) {
        report.status = Status::Error(Code::kCancelled, "stopped on request before migration " + m.version + "_" +
                                                            m.name + "; run again to continue");
        return report;
      }
      if (ctx.before_migration) {
        if (Status go = ctx.before_migration(m.version); !go.ok()) {
          report.status = go;
          return report;
        }
      }
      std::string detail;
      for (const auto& idx : snap.invalid_indexes[i]) {
        // Left by a failed CREATE INDEX CONCURRENTLY; the retry cannot build over it.
        Status s = db->ExecScript("DROP INDEX CONCURRENTLY IF EXISTS " + idx);
        if (!s.ok()) {
          report.status = s.WithContext("dropping invalid index " + idx + " before re-running " + m.file);
          report.failed_version = m.version;
          report.failed_file = m.file;
          return report;
        }
        LogInfo("sql_invalid_index_dropped", {{"index", idx}, {"version", m.version}});
        detail += (detail.empty() ? "dropped invalid index " : ", ") + idx;
      }
      if (!RunOne(db, &audit, m, ctx, i + 1, total, /*down=*/false, actor, detail,
                  history.RecordSql(m.version, m.name, m.checksum), &report)) {
        return report;
      }
    }
    return report;
  }

  RunReport Rollback(Database* db, const std::string& to_version, const RunContext& ctx) override {
    RunReport report;
    if (!AllDigits(to_version)) {
      report.status = Status::Invalid("rollback target '" + to_version +
                                      "' is not a migration version (digits only; 0 rolls back everything)");
      return report;
    }
    SqlHistory history(db, schema_);
    if (Status s = history.Ensure(); !s.ok()) {
      report.status = s;
      return report;
    }
    auto applied = history.ReadApplied();
    if (!applied.ok()) {
      report.status = applied.status();
      return report;
    }
    std::vector<std::string> versions;  // newest first
    for (auto it = applied->rbegin(); it != applied->rend(); ++it) {
      if (CompareVersions(it->version, to_version) <= 0) break;
      versions.push_back(it->version);
    }
    return WithVersion(db, RunDowns(db, versions, "roll back to " + to_version, ctx));
  }

  RunReport RollbackVersions(Database* db, const std::vector<std::string>& versions, const RunContext& ctx) override {
    return WithVersion(db, RunDowns(db, versions, "roll back " + std::to_string(versions.size()) + " migration(s)", ctx));
  }

 private:
  // Fills report.current_version from the history as it is now (after success or failure).
  RunReport WithVersion(Database* db, RunReport report) {
    auto applied = SqlHistory(db, schema_).ReadApplied();
    if (applied.ok()) report.current_version = applied->empty() ? "" : applied->back().version;
    return report;
  }

  // Runs the down files of `versions` in the order given (each must be applied; versions no longer
  // in the history are skipped). Every one must have a down file, and with ctx.approved the down
  // file listed there, before any runs. `what` names the request in errors.
  RunReport RunDowns(Database* db, const std::vector<std::string>& versions, const std::string& what,
                     const RunContext& ctx) {
    RunReport report;
    SqlHistory history(db, schema_);
    AuditLog audit(db, schema_);
    if (!Prepare(&history, &audit, &report)) return report;
    const std::string actor = ctx.actor.empty() ? CurrentActor() : ctx.actor;  // once per run, not per row
    auto files = ListSqlFolder(fs_, folder_);
    auto applied = history.ReadApplied();
    if (!files.ok() || !applied.ok()) {
      report.status = files.ok() ? applied.status() : files.status();
      return report;
    }
    std::map<std::string, const SqlMigrationFile*> by_version;
    for (const auto& f : *files) by_version[f.version] = &f;
    std::map<std::string, bool> is_applied;
    for (const auto& a : *applied) is_applied[a.version] = true;

    std::vector<PreparedMigration> downs;
    std::string missing, changed;
    for (const auto& v : versions) {
      if (!is_applied.count(v)) continue;
      auto f = by_version.find(v);
      if (f == by_version.end()) {
        missing += (missing.empty() ? "" : ", ") + v + " (no file in " + folder_ + ")";
        continue;
      }
      if (f->second->down_path.empty()) {
        missing += (missing.empty() ? "" : ", ") + v + "_" + f->second->name + " (no " + f->second->version + "_" +
                   f->second->name + ".down.sql)";
        continue;
      }
      if (!missing.empty()) continue;
      auto text = cache_->Text(fs_, f->second->down_path);
      if (!text.ok()) {
        report.status = text.status();
        return report;
      }
      if (ctx.approved) {
        for (const auto& a : *ctx.approved) {
          if (a.version == v && a.down_checksum != (*text)->checksum) {
            changed += (changed.empty() ? "" : ", ") + f->second->down_path;
          }
        }
      }
      auto prepared = PrepareMigration(f->second->version, f->second->name, f->second->down_path, *text,
                                       f->second->down_autocommit);
      if (!prepared.ok()) {
        report.status = prepared.status();
        return report;
      }
      downs.push_back(std::move(prepared).value());
    }
    if (!missing.empty()) {
      report.status = Status::Invalid("cannot " + what + ": no down migration for " + missing +
                                      ". Nothing was changed; add the missing .down.sql file(s) or pick a newer "
                                      "target version.");
      return report;
    }
    if (!changed.empty()) {
      report.status = Status::Error(Code::kGated, "cannot " + what + ": down file(s) changed after the plan passed "
                                                      "its gates: " + changed +
                                                      ". Nothing was rolled back; restore the reviewed file(s) or "
                                                      "roll back by hand.");
      report.plan_changed = true;
      return report;
    }
    const int total = static_cast<int>(downs.size());
    for (int i = 0; i < total; ++i) {
      const PreparedMigration& m = downs[i];
      if (ctx.cancelled && ctx.cancelled()) {
        report.status = Status::Error(Code::kCancelled, "stopped on request before rolling back " + m.version +
                                                            "; run again to continue");
        return report;
      }
      if (!RunOne(db, &audit, m, ctx, i + 1, total, /*down=*/true, actor, "",
                  history.RemoveSql(m.version), &report)) {
        return report;
      }
    }
    return report;
  }

  // History and audit tables, and audit rows of runs that died. False (report filled) on error.
  bool Prepare(SqlHistory* history, AuditLog* audit, RunReport* report) {
    Status s = history->Ensure();
    if (s.ok()) s = audit->Ensure();
    if (s.ok()) s = audit->MarkInterrupted();
    report->status = s;
    return s.ok();
  }

  // Runs one file; its audit row "succeeded" is written in the file's own transaction with its
  // history row (one commit per file); a failure writes a "failed" (or "interrupted") row after
  // the rollback. Appends a step or fills the failure. False on failure.
  bool RunOne(Database* db, AuditLog* audit, const PreparedMigration& m, const RunContext& ctx, int index, int total,
              bool down, const std::string& actor, const std::string& detail, const std::string& record_sql,
              RunReport* report) {
    AuditEntry e;
    e.resource = ctx.resource;
    e.engine = kEngine;
    e.version = m.version;
    e.name = m.name;
    e.direction = down ? "down" : "up";
    e.checksum = m.checksum;
    e.statements_total = static_cast<int>(m.statements.size());
    e.actor = actor;
    e.detail = detail;
    Progress p;
    p.version = m.version;
    p.name = m.name;
    p.migration_index = index;
    p.migrations_total = total;
    RecordStep step;
    step.sql = [&](bool in_transaction, long long elapsed_ms) {
      return std::vector<std::string>{
          record_sql, audit->SucceededSql(e, in_transaction ? std::nullopt : std::optional<long long>(elapsed_ms))};
    };
    FileRunOutcome o = m.backfill ? RunBackfill(db, m, schema_, down ? m.version + ".down" : m.version, ctx, p, step)
                                  : RunMigrationFile(db, m, ctx, p, step);
    if (o.status.ok()) {
      report->steps.push_back(AppliedStep{m.version, m.name, o.duration_ms, o.statements_applied});
      LogInfo(down ? "sql_migration_rolled_back" : "sql_migration_applied",
              {{"version", m.version},
               {"name", m.name},
               {"statements", std::to_string(o.statements_applied)},
               {"duration_ms", std::to_string(o.duration_ms)}});
      return true;
    }
    report->status =
        FileFailureStatus(std::string(down ? "down migration " : "migration ") + m.version + "_" + m.name, m, o, ctx);
    report->failed_version = m.version;
    report->failed_file = m.file;
    report->failed_statement_index = o.failed_index;
    report->failed_statement_line = o.failed_line;
    report->failed_statement = o.failed_summary;
    // Cancelled on request (ctx.cancelled, or Database::Cancel from a watcher), not a timeout.
    bool stopped = o.status.code() == Code::kCancelled && !IsStatementTimeout(o.status);
    e.status = stopped ? "interrupted" : "failed";
    e.statements_applied = o.statements_applied;
    e.duration_ms = o.duration_ms;
    e.error = o.status.message();
    e.failing_statement = FailedStatementRef(o);
    Status s = audit->Record(e);
    if (!s.ok()) LogWarn("sql_audit_record_failed", {{"version", m.version}, {"error", s.message()}});
    LogError(down ? "sql_down_migration_failed" : "sql_migration_failed",
             {{"version", m.version}, {"file", m.file}, {"statement", std::to_string(o.failed_index)},
              {"line", std::to_string(o.failed_line)}, {"error", o.status.message()}});
    return false;
  }

  // What the engine keeps of a pending file for the length of a run (the engine lives for one
  // pass): its text, split and lint findings, so observe, plan, lint and apply read, hash and
  // tokenize it once. Keyed by path; dropped when the text (its stamp) changes.
  struct Held {
    std::shared_ptr<const MigrationText> text;
    std::optional<PreparedMigration> prepared;
    std::vector<std::string> summary;
    std::optional<std::vector<LintFinding>> findings;
    MigrationPhase phase = MigrationPhase::kExpand;  // from the file's directives
  };

  // Expand/contract lint pairing: whether the folder uses phases (a pending contract migration,
  // else an applied one, read only when a pending expand file has a destructive finding, so a
  // no-op pass reads nothing more), and if so the destructive findings of expand files are errors.
  // is_applied: by index into files.
  void MarkPhases(EngineState* st, const std::vector<SqlMigrationFile>& files, const std::vector<char>& is_applied,
                  bool lint) {
    bool phased = false, destructive = false;
    for (const auto& p : st->pending) {
      phased |= p.phase == MigrationPhase::kContract;
      for (const auto& f : p.findings) destructive |= p.phase == MigrationPhase::kExpand && IsDestructiveRule(f.rule);
    }
    if (!phased && lint && destructive) {
      for (size_t i = 0; i < files.size(); ++i) {
        const SqlMigrationFile& f = files[i];
        if (!is_applied[i]) continue;
        auto text = cache_->Text(fs_, f.up_path);
        if (!text.ok() || (*text)->content.find("-- schema-upgrade") == std::string::npos) continue;
        auto d = ReadMigrationDirectives(f.up_path, (*text)->content);
        if (!d.ok()) continue;  // an applied file: its header no longer decides anything
        auto phase = MigrationPhaseOf(f.up_path, *d);
        if (phase.ok() && *phase == MigrationPhase::kContract) {
          phased = true;
          break;
        }
      }
    }
    st->uses_phases = phased;
    if (!phased || !lint) return;
    for (auto& p : st->pending) {
      if (p.phase == MigrationPhase::kExpand) PairExpandFindings(&p.findings);
    }
  }

  Result<Snapshot> Load(Database* db, bool lint, const std::vector<std::string>& accept) {
    SU_ASSIGN_OR_RETURN(std::vector<SqlMigrationFile> files, ListSqlFolder(fs_, folder_));
    SqlHistory history(db, schema_);
    SU_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, history.ReadApplied());

    Snapshot snap;
    EngineState& st = snap.state;
    // Hashed, not ordered, and by index: a no-op over thousands of applied files walks these once.
    std::unordered_map<std::string_view, size_t> by_version;
    by_version.reserve(files.size());
    for (size_t i = 0; i < files.size(); ++i) by_version[files[i].version] = i;
    std::vector<char> is_applied(files.size(), 0);  // by index into files
    for (auto& a : applied) {
      auto f = by_version.find(a.version);
      if (f == by_version.end()) {
        st.unknown.push_back(a.version);
      } else {
        const SqlMigrationFile& file = files[f->second];
        is_applied[f->second] = 1;
        if (a.name.empty()) a.name = file.name;
        // Applied files need only their checksum: read and hashed when their stamp changed.
        SU_ASSIGN_OR_RETURN(std::string checksum, cache_->Checksum(fs_, file.up_path));
        if (!a.checksum.empty() && a.checksum != checksum) {
          DriftedMigration d;
          d.version = a.version;
          d.name = file.name;
          d.file = file.up_path;
          d.recorded_checksum = a.checksum;
          d.file_checksum = checksum;
          d.accepted = Listed(accept, a.version);
          st.drift.push_back(std::move(d));
        }
      }
    }
    if (!applied.empty()) st.current_version = applied.back().version;
    if (!files.empty()) st.latest_version = files.back().version;
    for (const auto& u : st.unknown) {
      if (st.latest_version.empty() || VersionLess(st.latest_version, u)) st.ahead.push_back(u);
    }
    st.applied = std::move(applied);

    std::map<std::string, Held> held;
    for (size_t i = 0; i < files.size(); ++i) {
      const SqlMigrationFile& f = files[i];
      if (is_applied[i]) continue;
      SU_ASSIGN_OR_RETURN(std::shared_ptr<const MigrationText> text, cache_->Text(fs_, f.up_path));
      Held h;
      if (auto it = held_.find(f.up_path); it != held_.end() && it->second.text == text) h = std::move(it->second);
      h.text = text;
      if (!h.prepared) {
        SU_ASSIGN_OR_RETURN(Directives directives, ReadMigrationDirectives(f.up_path, text->content));
        SU_ASSIGN_OR_RETURN(h.phase, MigrationPhaseOf(f.up_path, directives));
        SU_ASSIGN_OR_RETURN(PreparedMigration prepared,
                            PrepareMigration(f.version, f.name, f.up_path, text, f.up_autocommit));
        h.summary.clear();
        for (const auto& s : prepared.statements) h.summary.push_back(SummarizeStatement(s.text));
        h.prepared = std::move(prepared);
      }
      const PreparedMigration& m = *h.prepared;
      PendingMigration p;
      p.version = f.version;
      p.name = f.name;
      p.file = f.up_path;
      p.checksum = m.checksum;
      p.no_transaction = m.no_transaction;
      p.phase = h.phase;
      p.has_down = !f.down_path.empty();
      if (p.has_down) {
        // The down file can run as part of this upgrade (onFailure: runDown): the plan covers it.
        SU_ASSIGN_OR_RETURN(p.down_checksum, cache_->Checksum(fs_, f.down_path));
      }
      p.summary = h.summary;
      std::vector<std::string_view> views;
      views.reserve(m.statements.size());
      for (const auto& s : m.statements) views.push_back(s.text);
      p.statements = StatementList(m.source, std::move(views));
      if (lint) {
        if (!h.findings) {
          LintOptions opts;
          opts.in_transaction = !m.no_transaction;
          opts.runner_sets_lock_timeout = sets_lock_timeout_;
          SU_ASSIGN_OR_RETURN(h.findings, LintSql(f.up_path, std::string_view(text->content), opts));
        }
        p.findings = *h.findings;
      }
      if (!st.current_version.empty() && CompareVersions(f.version, st.current_version) < 0) {
        st.notes.push_back("migration " + f.version + "_" + f.name + " is older than the current version " +
                           st.current_version + " and will be applied out of order");
      }
      SU_ASSIGN_OR_RETURN(std::vector<std::string> invalid, FindInvalidIndexes(db, m.concurrent_indexes));
      for (const auto& idx : invalid) {
        st.notes.push_back("invalid index " + idx + " (left by a failed CREATE INDEX CONCURRENTLY in " + f.up_path +
                           ") will be dropped and rebuilt by the next apply");
      }
      if (m.backfill) {
        SU_ASSIGN_OR_RETURN(PendingBackfill b, ObservePendingBackfill(db, m, schema_, f.version));
        b.note = DescribePendingBackfill(b, "migration " + f.version + "_" + f.name);
        st.notes.push_back(b.note);
        st.backfills.push_back(std::move(b));
      }
      st.pending.push_back(std::move(p));
      snap.pending.push_back(m);
      snap.invalid_indexes.push_back(std::move(invalid));
      held.emplace(f.up_path, std::move(h));
    }
    // Files applied since (or gone) are let go: a finished run holds no file text.
    held_ = std::move(held);
    MarkPhases(&st, files, is_applied, lint);
    return snap;
  }

  FileSystem* fs_;
  MigrationFileCache* cache_ = SharedMigrationFileCache();
  std::map<std::string, Held> held_;  // pending files of this run, by path
  std::string folder_;
  std::string schema_;
  std::vector<std::string> accept_drift_;
  bool sets_lock_timeout_;
};

}  // namespace

std::unique_ptr<Engine> NewSqlEngine(FileSystem* fs, std::string folder, std::string schema,
                                     std::vector<std::string> accept_drift, bool sets_lock_timeout) {
  return std::make_unique<SqlEngine>(fs, std::move(folder), std::move(schema), std::move(accept_drift),
                                     sets_lock_timeout);
}

}  // namespace su
