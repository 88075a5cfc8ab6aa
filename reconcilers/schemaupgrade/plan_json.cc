// JSON rendering of a Plan (the only TU here that includes cpprestsdk's json.h for plans).
#include <cpprest/json.h>

#include "reconcilers/schemaupgrade/json_text.h"
#include "reconcilers/schemaupgrade/plan.h"

namespace su {
namespace {

using web::json::value;

using json_text::Str;

value Strings(const std::vector<std::string>& v) {
  value a = value::array(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = Str(v[i]);
  return a;
}

value Finding(const LintFinding& f) {
  value o = value::object();
  o["file"] = Str(f.file);
  o["line"] = value::number(f.line);
  o["rule"] = Str(f.rule);
  o["severity"] = Str(LintSeverityName(f.severity));
  o["message"] = Str(f.message);
  o["suggestion"] = Str(f.suggestion);
  o["statement"] = Str(f.statement);
  if (!f.table.empty()) o["table"] = Str(f.table);
  if (f.table_rows >= 0) o["tableRows"] = value::number(static_cast<int64_t>(f.table_rows));
  return o;
}

value Num(long long n) { return value::number(static_cast<int64_t>(n)); }

// docs/backfill.md "In the plan": one object per pending backfill migration.
value Backfill(const PendingBackfill& b) {
  value o = value::object();
  o["version"] = Str(b.version);
  o["file"] = Str(b.file);
  o["table"] = Str(b.table);
  o["key"] = Str(b.key);
  value batch = value::object();
  batch["size"] = Num(b.batch);
  batch["min"] = Num(b.min_batch);
  batch["max"] = Num(b.max_batch);
  batch["adaptive"] = value::boolean(b.adaptive);
  batch["timeMs"] = Num(b.batch_time_ms);
  batch["pauseMs"] = Num(b.pause_ms);
  batch["maxLagMs"] = Num(b.max_lag_ms);
  o["batch"] = batch;
  o["tableExists"] = value::boolean(b.table_exists);
  o["rowsEstimate"] = b.rows_estimate >= 0 ? Num(b.rows_estimate) : value::null();
  if (b.interrupted) {
    value r = value::object();
    r["rowsDone"] = Num(b.rows_done);
    r["batches"] = Num(b.batches);
    r["resumeAfter"] = b.resume_after.empty() ? value::null() : Str(b.resume_after);
    o["interrupted"] = r;
  } else {
    o["interrupted"] = value::null();
  }
  return o;
}

value Rehearsal(const RehearsalReport& r) {
  value o = value::object();
  o["ran"] = value::boolean(r.ran);
  if (!r.ran) {
    o["skipped"] = Str(r.skipped);
    return o;
  }
  o["ok"] = value::boolean(r.ok);
  o["summary"] = Str(RehearsalSummary(r));
  o["copyMethod"] = Str(r.copy_method);
  o["templateSkipped"] = Str(r.template_skipped);
  o["scratchDatabase"] = Str(r.scratch_database);
  o["server"] = Str(r.other_server ? "rehearseOn" : "source");
  o["copyMs"] = Num(r.copy_ms);
  o["totalMs"] = Num(r.total_ms);
  o["dropped"] = value::boolean(r.dropped);
  if (!r.drop_error.empty()) o["dropError"] = Str(r.drop_error);
  if (!r.measured.empty()) o["measured"] = Str(r.measured);
  if (!r.ok) {
    value f = value::object();
    f["error"] = Str(r.error);
    f["version"] = Str(r.failed_version);
    f["statement"] = value::number(r.failed_statement);
    f["summary"] = Str(r.failed_summary);
    o["failure"] = f;
  }
  value ms = value::array(r.migrations.size());
  for (size_t i = 0; i < r.migrations.size(); ++i) {
    const RehearsedMigration& m = r.migrations[i];
    value v = value::object();
    v["version"] = Str(m.version);
    v["name"] = Str(m.name);
    v["ok"] = value::boolean(m.ok);
    v["durationMs"] = Num(m.duration_ms);
    if (!m.error.empty()) v["error"] = Str(m.error);
    value sts = value::array(m.statements.size());
    for (size_t k = 0; k < m.statements.size(); ++k) {
      const RehearsedStatement& s = m.statements[k];
      value x = value::object();
      x["index"] = value::number(s.index);
      x["summary"] = Str(s.summary);
      x["durationMs"] = Num(s.duration_ms);
      if (s.rows >= 0) x["rows"] = Num(s.rows);
      if (!s.error.empty()) x["error"] = Str(s.error);
      sts[k] = x;
    }
    v["statements"] = sts;
    value locks = value::array(m.locks.size());
    for (size_t k = 0; k < m.locks.size(); ++k) {
      const RehearsedLock& l = m.locks[k];
      value x = value::object();
      x["relation"] = Str(l.relation);
      x["mode"] = Str(l.mode);
      x["statement"] = value::number(l.statement);
      x["heldMs"] = Num(l.held_ms);
      x["waited"] = value::boolean(l.waited);
      locks[k] = x;
    }
    v["locks"] = locks;
    value tables = value::array(m.tables.size());
    for (size_t k = 0; k < m.tables.size(); ++k) {
      value x = value::object();
      x["name"] = Str(m.tables[k].name);
      x["rows"] = Num(m.tables[k].rows);
      x["bytes"] = Num(m.tables[k].bytes);
      tables[k] = x;
    }
    v["tables"] = tables;
    ms[i] = v;
  }
  o["migrations"] = ms;
  if (r.rows_measured) {  // the ory migrator: per table over the whole run
    value rows = value::array(r.rows_touched.size());
    for (size_t k = 0; k < r.rows_touched.size(); ++k) {
      value x = value::object();
      x["table"] = Str(r.rows_touched[k].table);
      x["inserted"] = Num(r.rows_touched[k].inserted);
      x["updated"] = Num(r.rows_touched[k].updated);
      x["deleted"] = Num(r.rows_touched[k].deleted);
      rows[k] = x;
    }
    o["rowsTouched"] = rows;
  }
  if (!r.rows_note.empty()) o["rowsNote"] = Str(r.rows_note);
  return o;
}

}  // namespace

std::string RenderFindingsJson(const std::vector<LintFinding>& findings) {
  value a = value::array(findings.size());
  for (size_t i = 0; i < findings.size(); ++i) a[i] = Finding(findings[i]);
  return a.serialize() + "\n";
}

std::string RenderPlanJson(const Plan& p) {
  value o = value::object();
  o["resource"] = Str(p.resource);
  o["service"] = Str(p.service);
  o["engine"] = Str(p.engine);
  o["hash"] = Str(p.hash);
  o["database"] = Str(p.database);
  o["targetVersion"] = Str(p.target_version);
  o["databaseVersion"] = Str(p.db_version);
  o["currentImage"] = Str(p.current_image);
  o["targetImage"] = Str(p.target_image);
  o["upToDate"] = value::boolean(p.UpToDate());
  value applied = value::array(p.state.applied.size());
  for (size_t i = 0; i < p.state.applied.size(); ++i) {
    const auto& a = p.state.applied[i];
    value m = value::object();
    m["version"] = Str(a.version);
    m["name"] = Str(a.name);
    m["checksum"] = Str(a.checksum);
    m["appliedAt"] = Str(a.applied_at);
    applied[i] = m;
  }
  o["applied"] = applied;
  value pending = value::array(p.state.pending.size());
  for (size_t i = 0; i < p.state.pending.size(); ++i) {
    const auto& m = p.state.pending[i];
    value v = value::object();
    v["version"] = Str(m.version);
    v["name"] = Str(m.name);
    v["file"] = Str(m.file);
    v["checksum"] = Str(m.checksum);
    v["downChecksum"] = Str(m.down_checksum);
    v["transaction"] = value::boolean(!m.no_transaction);
    v["hasDown"] = value::boolean(m.has_down);
    v["statements"] = Strings(m.summary);
    v["phase"] = Str(MigrationPhaseName(m.phase));
    pending[i] = v;
  }
  o["pending"] = pending;
  if (PlanHasContractSteps(p)) {
    // Expand/contract: the two groups, by version, and the hash a contract approval names.
    std::vector<std::string> expand, contract;
    for (const auto& m : p.state.pending) (m.phase == MigrationPhase::kContract ? contract : expand).push_back(m.version);
    value groups = value::object();
    groups["expand"] = Strings(expand);
    groups["contract"] = Strings(contract);
    o["phases"] = groups;
    o["contractHash"] = Str(p.contract_hash);
  }
  value drift = value::array(p.state.drift.size());
  for (size_t i = 0; i < p.state.drift.size(); ++i) {
    const auto& d = p.state.drift[i];
    value v = value::object();
    v["version"] = Str(d.version);
    v["name"] = Str(d.name);
    v["file"] = Str(d.file);
    v["recordedChecksum"] = Str(d.recorded_checksum);
    v["fileChecksum"] = Str(d.file_checksum);
    v["accepted"] = value::boolean(d.accepted);
    drift[i] = v;
  }
  o["drift"] = drift;
  o["unknown"] = Strings(p.state.unknown);
  o["notes"] = Strings(p.state.notes);
  value backfills = value::array(p.state.backfills.size());
  for (size_t i = 0; i < p.state.backfills.size(); ++i) backfills[i] = Backfill(p.state.backfills[i]);
  o["backfills"] = backfills;
  o["downgrade"] = value::boolean(p.downgrade);
  o["ahead"] = Strings(p.ahead);
  o["preflight"] = Strings(p.preflight);
  o["refused"] = Str(p.refused);
  value findings = value::array(p.findings.size());
  for (size_t i = 0; i < p.findings.size(); ++i) findings[i] = Finding(p.findings[i]);
  o["findings"] = findings;
  value steps = value::array(p.steps.size());
  for (size_t i = 0; i < p.steps.size(); ++i) {
    value s = value::object();
    s["kind"] = Str(p.steps[i].kind);
    s["description"] = Str(p.steps[i].description);
    steps[i] = s;
  }
  o["steps"] = steps;
  value deps = value::array(p.dependencies.size());
  for (size_t i = 0; i < p.dependencies.size(); ++i) {
    const auto& d = p.dependencies[i];
    value v = value::object();
    v["resource"] = Str(d.key);
    v["exists"] = value::boolean(d.exists);
    v["targetVersion"] = Str(d.target);
    v["satisfied"] = value::boolean(d.satisfied);
    v["detail"] = Str(d.detail);
    deps[i] = v;
  }
  o["dependsOn"] = deps;
  if (!p.path.empty()) {  // docs/upgrade-paths.md: the releases of the path, in order
    value path = value::array(p.path.size());
    for (size_t i = 0; i < p.path.size(); ++i) {
      value v = value::object();
      v["version"] = Str(p.path[i].version);
      v["image"] = Str(p.path[i].image);
      v["migrationsUpTo"] = Str(p.path[i].migrations_up_to);
      v["current"] = value::boolean(p.path[i].current);
      if (p.path[i].current) v["migrations"] = Strings(p.path[i].migrations);
      path[i] = v;
    }
    o["upgradePath"] = path;
  }
  if (p.rehearsal) o["rehearsal"] = Rehearsal(*p.rehearsal);
  return o.serialize() + "\n";
}

}  // namespace su
