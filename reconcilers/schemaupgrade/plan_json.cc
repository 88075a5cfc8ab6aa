// JSON rendering of a Plan (the only TU here that includes cpprestsdk's json.h for plans).
#include <cpprest/json.h>

#include "reconcilers/base/text_check.h"
#include "reconcilers/schemaupgrade/plan.h"

namespace su {
namespace {

using web::json::value;

// Valid UTF-8 always: a message may quote bytes of a bad input file, and the JSON must stay valid.
value Str(const std::string& s) { return value::string(ValidUtf8(s)); }

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
    pending[i] = v;
  }
  o["pending"] = pending;
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
  return o.serialize() + "\n";
}

}  // namespace su
