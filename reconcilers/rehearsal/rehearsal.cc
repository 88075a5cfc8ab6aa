// Rehearse(): copy, apply on the copy through the engine while recording, drop (see rehearsal.h).
#include "reconcilers/rehearsal/rehearsal.h"

#include <map>
#include <optional>

#include "reconcilers/base/log.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/rehearsal/migrator_recorder.h"
#include "reconcilers/rehearsal/recorder.h"

namespace su {
namespace {

// Our sessions on the copy while an engine applies there: the migration session, holding the
// migration lock; a second session for the recorder's samples; and what the engine finds pending.
// Destroyed in reverse: the lock is released before its session closes.
struct CopySessions {
  std::unique_ptr<Database> db;
  std::unique_ptr<Database> monitor;
  std::optional<MigrationLock> lock;
  EngineState state;
};

// Connects twice to the copy, takes the migration lock, observes through `engine`. Errors say
// which of these failed.
Result<CopySessions> OpenCopy(Engine* engine, const ScratchDatabase& copy, const RunContext& ctx) {
  CopySessions s;
  auto db = ConnectPostgres(copy.dsn(), "schema-upgrade-rehearsal");
  if (!db.ok()) return db.status().WithContext("connecting to the rehearsal copy " + copy.name());
  s.db = std::move(db).value();
  auto monitor = ConnectPostgres(copy.dsn(), "schema-upgrade-rehearsal-locks");
  if (!monitor.ok()) return monitor.status().WithContext("connecting to the rehearsal copy " + copy.name());
  s.monitor = std::move(monitor).value();
  auto lock = MigrationLock::AcquireForDatabase(s.db.get(), std::chrono::seconds(10), ctx.clock);
  if (!lock.ok()) return lock.status().WithContext("taking the migration lock on the copy");
  s.lock.emplace(std::move(lock).value());
  auto state = engine->Observe(s.db.get());
  if (!state.ok()) return state.status().WithContext("reading the copy's migration history");
  s.state = std::move(state).value();
  return s;
}

// The run's context for the copy: no live lock watch (it is about the real database) and no
// maintenance window check (about the real run); progress is chained by the caller.
RunContext CopyContext(const RunContext& ctx) {
  RunContext c = ctx;
  c.on_session = nullptr;
  c.before_migration = nullptr;
  c.rehearsal = true;
  return c;
}

// Applies on the copy; fills the report's migrations and failure. Every session on the copy is
// closed when it returns.
void ApplyOnCopy(Engine* engine, const ScratchDatabase& copy, const RehearsalOptions& options, const RunContext& ctx,
                 RehearsalReport& report) {
  auto on = OpenCopy(engine, copy, ctx);
  if (!on.ok()) {
    report.error = on.status().message();
    return;
  }
  std::map<std::string, StatementList> texts;
  for (const auto& m : on->state.pending) texts[m.version] = m.statements;

  RehearsalRecorder recorder(on->db.get(), std::move(on->monitor), options.sample_interval);
  RunContext c = CopyContext(ctx);
  c.on_progress = [&](const Progress& p) {
    if (p.event == Progress::Event::kMigrationStart) recorder.BeginMigration(p.version, p.name, texts[p.version]);
    if (p.event == Progress::Event::kMigrationDone) recorder.EndMigration(p.version);
    if (ctx.on_progress) ctx.on_progress(p);
  };
  RunReport run = engine->Apply(&recorder, c);
  report.migrations = recorder.Finish();
  for (const auto& m : report.migrations) report.total_ms += m.duration_ms;
  if (!run.status.ok()) {
    report.error = run.status.message();
    report.failed_version = run.failed_version;
    report.failed_statement = run.failed_statement_index;
    report.failed_summary = run.failed_statement;
    for (auto& m : report.migrations) {
      if (m.version == run.failed_version) {
        m.ok = false;
        if (m.error.empty()) m.error = run.status.message();
      }
    }
    return;
  }
  report.ok = true;
}

// The engine's own migrator (ory) on the copy: the engine is rebuilt for the copy's DSN, and the
// migrator's sessions are measured from outside (migrator_recorder.h). Every session of ours on
// the copy is closed when it returns.
void ApplyMigratorOnCopy(const ScratchDatabase& copy, const std::string& source_dsn, const RehearsalOptions& options,
                         const RunContext& ctx, RehearsalReport& report) {
  auto fail = [&](const Status& s, const std::string& what) { report.error = s.WithContext(what).message(); };
  const std::string& server = options.scratch.server_dsn.empty() ? source_dsn : options.scratch.server_dsn;
  auto copy_dsn = MigratorDsn(server, copy.name());
  if (!copy_dsn.ok()) return fail(copy_dsn.status(), "the migrator's DSN for the rehearsal copy");
  // The migrator must reach the copy and nothing else: check the DSN as libpq reads it.
  auto parsed = DsnToPgEnv(LibpqDsn(*copy_dsn));
  if (!parsed.ok() || (*parsed)["PGDATABASE"] != copy.name()) {
    return fail(Status::Invalid("it does not name the copy " + copy.name() + " as libpq reads it; not run"),
                "the migrator's DSN for the rehearsal copy");
  }
  auto engine = options.engine_for_copy(*copy_dsn);
  if (!engine.ok()) return fail(engine.status(), "building the migrator for the rehearsal copy");
  auto on = OpenCopy(engine->get(), copy, ctx);
  if (!on.ok()) {
    report.error = on.status().message();
    return;
  }
  std::vector<std::pair<std::string, std::string>> pending;
  for (const auto& m : on->state.pending) pending.emplace_back(m.version, m.name);

  report.measured = "the migrator runs in its own container, so each duration runs from the migrator's \"Applying "
                    "migration\" line (else from the previous migration's end, and for the first from the "
                    "container's start, start-up included) to the first sample showing its " +
                    options.migrator_history_table + " row, every " +
                    std::to_string(options.sample_interval.count()) + " ms; locks are those of every session on "
                    "the copy, charged to the migration running when first seen; rows touched per table for the "
                    "whole run from pg_stat_user_tables (not per migration, and no statements: the SQL is "
                    "inside the image)";
  MigratorRecorder recorder(std::move(on->monitor), {on->db->BackendPid()}, options.migrator_history_table,
                            std::move(pending), options.sample_interval);
  RunContext c = CopyContext(ctx);
  c.on_migrator_start = [&] { recorder.MigratorStarting(); };
  c.on_progress = [&](const Progress& p) {
    if (p.event == Progress::Event::kMigrationStart) recorder.Announced(p.version);
    if (ctx.on_progress) ctx.on_progress(p);
  };
  RunReport run = (*engine)->Apply(on->db.get(), c);
  report.migrations = recorder.Finish(run.failed_version, run.status.ok() ? "" : run.status.message());
  report.rows_touched = recorder.rows_touched();
  report.rows_measured = recorder.rows_measured();
  report.rows_note = recorder.rows_note();
  for (const auto& m : report.migrations) report.total_ms += m.duration_ms;
  if (!run.status.ok()) {
    report.error = run.status.message();
    report.failed_version = run.failed_version;
    return;
  }
  report.ok = true;
}

}  // namespace

RehearsalReport Rehearse(Engine* engine, const std::string& source_dsn, const RehearsalOptions& options,
                         const RunContext& ctx) {
  RehearsalReport report;
  const bool migrator = engine->name() == "ory";
  if (migrator && !options.engine_for_copy) {
    report.skipped = !options.engine_for_copy_missing.empty()
                         ? options.engine_for_copy_missing
                         : "the ory engine runs the target image's own migrator, and no migrator for the copy's DSN "
                           "was given";
    return report;
  }
  report.ran = true;
  report.scratch_database = ScratchDatabaseName(options.scratch.resource);
  report.other_server = !options.scratch.server_dsn.empty();
  auto copy = ScratchDatabase::Create(source_dsn, options.scratch);
  if (!copy.ok()) {
    report.error = copy.status().message();
    report.dropped = true;  // a half-made copy is dropped before Create returns
    return report;
  }
  report.copy_method = CopyMethodName((*copy)->method());
  report.template_skipped = (*copy)->template_skipped();
  report.copy_ms = (*copy)->copy_ms();
  if (migrator) {
    ApplyMigratorOnCopy(**copy, source_dsn, options, ctx, report);
  } else {
    ApplyOnCopy(engine, **copy, options, ctx, report);
  }
  Status d = (*copy)->Drop();
  report.dropped = d.ok();
  if (!d.ok()) report.drop_error = d.message();
  LogInfo("rehearsal_done", {{"database", report.scratch_database}, {"ok", report.ok ? "true" : "false"},
                             {"migrations", std::to_string(report.migrations.size())},
                             {"ms", std::to_string(report.total_ms)}});
  return report;
}

}  // namespace su
