// ResourceStatus <-> JSON with cpprestsdk (the only TU that includes json.h for status).
#include "reconcilers/schemaupgrade/status_json.h"

#include <cpprest/json.h>

#include "reconcilers/schemaupgrade/json_text.h"

namespace su {
namespace {

using web::json::value;

using json_text::Str;

std::string GetStr(const value& o, const char* k) {
  if (!o.is_object() || !o.has_field(k) || !o.at(k).is_string()) return "";
  return o.at(k).as_string();
}

long long GetNum(const value& o, const char* k) {
  if (!o.is_object() || !o.has_field(k) || !o.at(k).is_number()) return 0;
  return o.at(k).as_number().to_int64();
}

}  // namespace

std::string StatusToJson(const ResourceStatus& s) {
  value o = value::object();
  o["resource"] = Str(s.resource);
  o["observedGeneration"] = value::number(static_cast<int64_t>(s.observed_generation));
  o["specHash"] = Str(s.spec_hash);
  o["phase"] = Str(PhaseName(s.phase));
  o["message"] = Str(s.message);
  o["currentVersion"] = Str(s.current_version);
  o["targetVersion"] = Str(s.target_version);
  o["image"] = Str(s.image);
  o["observedAt"] = Str(s.observed_at);
  o["previousImage"] = Str(s.previous_image);
  o["rolloutHold"] = Str(s.rollout_hold);
  if (!s.contract_after.empty()) o["contractAfter"] = Str(s.contract_after);
  value plan = value::object();
  plan["hash"] = Str(s.plan_hash);
  value pending = value::array(s.pending.size());
  for (size_t i = 0; i < s.pending.size(); ++i) pending[i] = Str(s.pending[i]);
  plan["pending"] = pending;
  o["plan"] = plan;
  value applied = value::array(s.applied.size());
  for (size_t i = 0; i < s.applied.size(); ++i) {
    value a = value::object();
    a["version"] = Str(s.applied[i].version);
    a["name"] = Str(s.applied[i].name);
    a["durationMs"] = value::number(static_cast<int64_t>(s.applied[i].duration_ms));
    a["appliedAt"] = Str(s.applied[i].applied_at);
    applied[i] = a;
  }
  o["applied"] = applied;
  o["appliedTotal"] = value::number(s.applied_total);
  o["attempts"] = value::number(s.attempts);
  o["lastError"] = Str(s.last_error);
  o["nextRetryAt"] = Str(s.next_retry_at);
  o["failureAction"] = Str(s.failure_action);
  o["startVersion"] = Str(s.start_version);
  o["approvedPlan"] = Str(s.approved_plan);
  // Upgrade paths: only when set (statuses of upgrades without a path stay as they were).
  if (!s.path_step.empty() || !s.path_done.empty()) {
    value path = value::object();
    path["step"] = Str(s.path_step);
    if (!s.path_step_started_at.empty()) path["stepStartedAt"] = Str(s.path_step_started_at);
    value done = value::array(s.path_done.size());
    for (size_t i = 0; i < s.path_done.size(); ++i) done[i] = Str(s.path_done[i]);
    path["done"] = done;
    o["upgradePath"] = path;
  }
  if (!s.start_image.empty()) o["startImage"] = Str(s.start_image);
  if (!s.rehearsal.empty()) o["rehearsal"] = Str(s.rehearsal);
  if (s.backup) {
    value b = value::object();
    b["path"] = Str(s.backup->path);
    b["sizeBytes"] = value::number(static_cast<int64_t>(s.backup->size_bytes));
    b["takenAt"] = Str(s.backup->taken_at);
    b["planHash"] = Str(s.backup->plan_hash);
    if (!s.backup->snapshot.empty()) b["snapshot"] = Str(s.backup->snapshot);
    if (s.backup->rows_written_since >= 0) {
      b["rowsWrittenSince"] = value::number(static_cast<int64_t>(s.backup->rows_written_since));
    }
    if (!s.backup->database_version.empty()) b["databaseVersion"] = Str(s.backup->database_version);
    o["backup"] = b;
  }
  if (s.undo) {
    const UndoProgress& u = *s.undo;
    value v = value::object();
    v["policy"] = Str(u.policy);
    v["planHash"] = Str(u.plan_hash);
    v["targetVersion"] = Str(u.target_version);
    v["generation"] = value::number(static_cast<int64_t>(u.generation));
    v["startVersion"] = Str(u.start_version);
    v["startImage"] = Str(u.start_image);
    v["fromImage"] = Str(u.from_image);
    v["imageBumped"] = value::boolean(u.image_bumped);
    v["failure"] = Str(u.failure);
    v["failureCode"] = Str(u.failure_code);
    v["reason"] = Str(u.reason);
    v["attempts"] = value::number(u.attempts);
    v["auditFrom"] = value::number(static_cast<int64_t>(u.audit_from));
    v["engineAuditFrom"] = value::number(static_cast<int64_t>(u.engine_audit_from));
    v["startedAt"] = Str(u.started_at);
    value done = value::array(u.done.size());
    for (size_t i = 0; i < u.done.size(); ++i) done[i] = Str(u.done[i]);
    v["done"] = done;
    if (!u.image_result.empty()) v["imageResult"] = Str(u.image_result);
    if (!u.schema_result.empty()) v["schemaResult"] = Str(u.schema_result);
    if (!u.schema_note.empty()) v["schemaNote"] = Str(u.schema_note);
    o["undo"] = v;
  }
  value blocked = value::array(s.blocked_sessions.size());
  for (size_t i = 0; i < s.blocked_sessions.size(); ++i) {
    value b = value::object();
    b["pid"] = value::number(s.blocked_sessions[i].pid);
    b["applicationName"] = Str(s.blocked_sessions[i].application_name);
    b["waitingMs"] = value::number(static_cast<int64_t>(s.blocked_sessions[i].waiting_ms));
    b["query"] = Str(s.blocked_sessions[i].query);
    blocked[i] = b;
  }
  o["blockedSessions"] = blocked;
  if (s.backfill) {
    value b = value::object();
    b["version"] = Str(s.backfill->version);
    b["rowsDone"] = value::number(static_cast<int64_t>(s.backfill->rows_done));
    b["rowsTotal"] = value::number(static_cast<int64_t>(s.backfill->rows_total));
    b["rowsPerSecond"] = value::number(static_cast<int64_t>(s.backfill->rows_per_second));
    b["etaSeconds"] = value::number(static_cast<int64_t>(s.backfill->eta_seconds));
    b["updatedAt"] = Str(s.backfill->updated_at);
    o["backfill"] = b;
  }
  value conds = value::array(s.conditions.size());
  for (size_t i = 0; i < s.conditions.size(); ++i) {
    const auto& c = s.conditions[i];
    value v = value::object();
    v["type"] = Str(c.type);
    v["status"] = Str(c.status);
    v["reason"] = Str(c.reason);
    v["message"] = Str(c.message);
    v["observedGeneration"] = value::number(static_cast<int64_t>(c.observed_generation));
    v["lastTransitionTime"] = Str(c.last_transition_time);
    conds[i] = v;
  }
  o["conditions"] = conds;
  o["updatedAt"] = Str(s.updated_at);
  return o.serialize();
}

bool StatusFromJson(const std::string& json, ResourceStatus* out, std::string* error) {
  value o;
  try {
    o = value::parse(json);
  } catch (const std::exception& e) {
    *error = std::string("invalid JSON: ") + e.what();
    return false;
  }
  if (!o.is_object()) {
    *error = "status is not a JSON object";
    return false;
  }
  ResourceStatus s;
  s.resource = GetStr(o, "resource");
  s.observed_generation = GetNum(o, "observedGeneration");
  s.spec_hash = GetStr(o, "specHash");
  if (!ParsePhase(GetStr(o, "phase"), &s.phase)) {
    *error = "unknown phase \"" + GetStr(o, "phase") + "\"";
    return false;
  }
  s.message = GetStr(o, "message");
  s.current_version = GetStr(o, "currentVersion");
  s.target_version = GetStr(o, "targetVersion");
  s.image = GetStr(o, "image");
  s.observed_at = GetStr(o, "observedAt");
  s.previous_image = GetStr(o, "previousImage");
  s.rollout_hold = GetStr(o, "rolloutHold");
  s.contract_after = GetStr(o, "contractAfter");
  if (o.has_field("plan")) {
    const value& plan = o.at("plan");
    s.plan_hash = GetStr(plan, "hash");
    if (plan.has_field("pending") && plan.at("pending").is_array()) {
      for (const auto& v : plan.at("pending").as_array()) {
        if (v.is_string()) s.pending.push_back(v.as_string());
      }
    }
  }
  if (o.has_field("applied") && o.at("applied").is_array()) {
    for (const auto& v : o.at("applied").as_array()) {
      s.applied.push_back({GetStr(v, "version"), GetStr(v, "name"), GetNum(v, "durationMs"), GetStr(v, "appliedAt")});
    }
  }
  s.applied_total = static_cast<int>(GetNum(o, "appliedTotal"));
  s.attempts = static_cast<int>(GetNum(o, "attempts"));
  s.last_error = GetStr(o, "lastError");
  s.next_retry_at = GetStr(o, "nextRetryAt");
  s.failure_action = GetStr(o, "failureAction");
  s.start_version = GetStr(o, "startVersion");
  s.approved_plan = GetStr(o, "approvedPlan");
  if (o.has_field("upgradePath") && o.at("upgradePath").is_object()) {
    const value& path = o.at("upgradePath");
    s.path_step = GetStr(path, "step");
    s.path_step_started_at = GetStr(path, "stepStartedAt");
    if (path.has_field("done") && path.at("done").is_array()) {
      for (const auto& v : path.at("done").as_array()) {
        if (v.is_string()) s.path_done.push_back(v.as_string());
      }
    }
  }
  s.start_image = GetStr(o, "startImage");
  s.rehearsal = GetStr(o, "rehearsal");
  if (o.has_field("backup") && o.at("backup").is_object()) {
    const value& b = o.at("backup");
    s.backup = BackupRecord{GetStr(b, "path"),       GetNum(b, "sizeBytes"),
                            GetStr(b, "takenAt"),    GetStr(b, "planHash"),
                            GetStr(b, "snapshot"),   b.has_field("rowsWrittenSince") ? GetNum(b, "rowsWrittenSince") : -1,
                            GetStr(b, "databaseVersion")};
  }
  if (o.has_field("undo") && o.at("undo").is_object()) {
    const value& v = o.at("undo");
    UndoProgress u;
    u.policy = GetStr(v, "policy");
    u.plan_hash = GetStr(v, "planHash");
    u.target_version = GetStr(v, "targetVersion");
    u.generation = GetNum(v, "generation");
    u.start_version = GetStr(v, "startVersion");
    u.start_image = GetStr(v, "startImage");
    u.from_image = GetStr(v, "fromImage");
    u.image_bumped = v.has_field("imageBumped") && v.at("imageBumped").is_boolean() && v.at("imageBumped").as_bool();
    u.failure = GetStr(v, "failure");
    u.failure_code = GetStr(v, "failureCode");
    u.reason = GetStr(v, "reason");
    u.attempts = static_cast<int>(GetNum(v, "attempts"));
    u.audit_from = v.has_field("auditFrom") ? GetNum(v, "auditFrom") : -1;
    u.engine_audit_from = v.has_field("engineAuditFrom") ? GetNum(v, "engineAuditFrom") : -1;
    u.started_at = GetStr(v, "startedAt");
    if (v.has_field("done") && v.at("done").is_array()) {
      for (const auto& d : v.at("done").as_array()) {
        if (d.is_string()) u.done.push_back(d.as_string());
      }
    }
    u.image_result = GetStr(v, "imageResult");
    u.schema_result = GetStr(v, "schemaResult");
    u.schema_note = GetStr(v, "schemaNote");
    s.undo = std::move(u);
  }
  if (o.has_field("backfill") && o.at("backfill").is_object()) {
    const value& b = o.at("backfill");
    s.backfill = BackfillProgress{GetStr(b, "version"), GetNum(b, "rowsDone"), GetNum(b, "rowsTotal"),
                                  GetNum(b, "rowsPerSecond"), GetNum(b, "etaSeconds"), GetStr(b, "updatedAt")};
  }
  if (o.has_field("blockedSessions") && o.at("blockedSessions").is_array()) {
    for (const auto& v : o.at("blockedSessions").as_array()) {
      s.blocked_sessions.push_back({static_cast<int>(GetNum(v, "pid")), GetStr(v, "applicationName"),
                                    GetNum(v, "waitingMs"), GetStr(v, "query")});
    }
  }
  if (o.has_field("conditions") && o.at("conditions").is_array()) {
    for (const auto& v : o.at("conditions").as_array()) {
      s.conditions.push_back({GetStr(v, "type"), GetStr(v, "status"), GetStr(v, "reason"), GetStr(v, "message"),
                              GetNum(v, "observedGeneration"), GetStr(v, "lastTransitionTime")});
    }
  }
  s.updated_at = GetStr(o, "updatedAt");
  *out = std::move(s);
  return true;
}

}  // namespace su
