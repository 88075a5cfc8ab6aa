// Rehearse(): copy, apply on the copy through the engine while recording, drop (see rehearsal.h).
#include "reconcilers/rehearsal/rehearsal.h"

#include <map>

#include "reconcilers/base/log.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/rehearsal/recorder.h"

namespace su {
namespace {

// Applies on the copy; fills the report's migrations and failure. Every session on the copy is
// closed when it returns.
void ApplyOnCopy(Engine* engine, const ScratchDatabase& copy, const RehearsalOptions& options, const RunContext& ctx,
                 RehearsalReport& report) {
  auto fail = [&](const Status& s, const std::string& what) { report.error = s.WithContext(what).message(); };
  auto db = ConnectPostgres(copy.dsn(), "schema-upgrade-rehearsal");
  if (!db.ok()) return fail(db.status(), "connecting to the rehearsal copy " + copy.name());
  auto monitor = ConnectPostgres(copy.dsn(), "schema-upgrade-rehearsal-locks");
  if (!monitor.ok()) return fail(monitor.status(), "connecting to the rehearsal copy " + copy.name());
  auto lock = MigrationLock::AcquireForDatabase(db->get(), std::chrono::seconds(10), ctx.clock);
  if (!lock.ok()) return fail(lock.status(), "taking the migration lock on the copy");
  auto state = engine->Observe(db->get());
  if (!state.ok()) return fail(state.status(), "reading the copy's migration history");
  std::map<std::string, StatementList> texts;
  for (const auto& m : state->pending) texts[m.version] = m.statements;

  RehearsalRecorder recorder(db->get(), std::move(monitor).value(), options.sample_interval);
  RunContext c = ctx;
  c.on_session = nullptr;         // the live lock watch is about the real database
  c.before_migration = nullptr;   // the maintenance window is about the real run
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

}  // namespace

RehearsalReport Rehearse(Engine* engine, const std::string& source_dsn, const RehearsalOptions& options,
                         const RunContext& ctx) {
  RehearsalReport report;
  if (engine->name() == "ory") {
    report.skipped = "the ory engine runs the target image's own migrator against the resource's database; "
                     "rehearsing it on a copy is not supported yet (sql and drizzle are)";
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
  ApplyOnCopy(engine, **copy, options, ctx, report);
  Status d = (*copy)->Drop();
  report.dropped = d.ok();
  if (!d.ok()) report.drop_error = d.message();
  LogInfo("rehearsal_done", {{"database", report.scratch_database}, {"ok", report.ok ? "true" : "false"},
                             {"migrations", std::to_string(report.migrations.size())},
                             {"ms", std::to_string(report.total_ms)}});
  return report;
}

}  // namespace su
