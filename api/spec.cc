// SchemaUpgrade helpers that need no YAML: the on-failure names and the canonical spec hash.
#include "api/spec.h"

#include "reconcilers/base/sha256.h"

namespace su {
namespace {

// Length-prefixed fields: no choice of values can make two different specs serialise alike.
class Canon {
 public:
  void Add(const char* key, const std::string& v) {
    out_ += key;
    out_ += '=';
    out_ += std::to_string(v.size());
    out_ += ':';
    out_ += v;
    out_ += '\n';
  }
  void Add(const char* key, long long v) { Add(key, std::to_string(v)); }
  void Add(const char* key, bool v) { Add(key, std::string(v ? "true" : "false")); }
  void Add(const char* key, std::chrono::milliseconds v) { Add(key, static_cast<long long>(v.count())); }
  void Add(const char* key, const std::vector<std::string>& v) {
    Add(key, static_cast<long long>(v.size()));
    for (const auto& s : v) Add(key, s);
  }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace

const char* OnFailureName(OnFailure f) {
  switch (f) {
    case OnFailure::kHalt: return "halt";
    case OnFailure::kRollbackImage: return "rollbackImage";
    case OnFailure::kRestoreBackup: return "restoreBackup";
    case OnFailure::kRunDown: return "runDown";
    case OnFailure::kRollback: return "rollback";
  }
  return "halt";
}

std::string ComputeSpecHash(const SchemaUpgrade& su) {
  Canon c;
  c.Add("v", std::string("spec/1"));  // bump when the canonical form changes
  c.Add("service", su.service);
  c.Add("targetVersion", su.target_version);
  c.Add("image", su.image);
  c.Add("workload.kind", su.workload.kind);
  c.Add("workload.name", su.workload.name);
  c.Add("workload.container", su.workload.container);
  c.Add("workload.composeFile", su.workload.compose_file);
  c.Add("workload.service", su.workload.service);
  c.Add("dsn.kind", static_cast<long long>(su.dsn.kind));
  c.Add("dsn.env", su.dsn.env);
  c.Add("dsn.file", su.dsn.file);
  c.Add("dsn.secretName", su.dsn.secret_name);
  c.Add("dsn.secretKey", su.dsn.secret_key);
  c.Add("migrations.engine", su.migrations.engine);
  c.Add("migrations.command", su.migrations.command);
  c.Add("migrations.statusCommand", su.migrations.status_command);
  c.Add("migrations.path", su.migrations.path);
  c.Add("migrations.schema", su.migrations.schema);
  // Only when not the default: existing specs keep their hash.
  if (su.migrations.source != kMigrationSourceController) {
    c.Add("migrations.source", su.migrations.source);
    c.Add("migrations.configMapRef.name", su.migrations.config_map_name);
    c.Add("migrations.configMapRef.keys", su.migrations.config_map_keys);
  }
  const PolicySpec& p = su.policy;
  c.Add("dryRun", p.dry_run);
  c.Add("approval.required", p.approval_required);
  c.Add("backup.enabled", p.backup_enabled);
  c.Add("backup.dir", p.backup_dir);
  // Fields added later enter the hash only when set, so existing specs keep their hash.
  if (p.backup_retention > 0) c.Add("backup.retention", static_cast<long long>(p.backup_retention));
  if (!p.backup_pvc_claim.empty()) {
    c.Add("backup.pvc.claimName", p.backup_pvc_claim);
    c.Add("backup.pvc.subPath", p.backup_pvc_sub_path);
  }
  if (p.restore_allow_data_loss) c.Add("restoreBackup.allowDataLoss", p.restore_allow_data_loss);
  c.Add("window", p.window.has_value());
  if (p.window) {
    c.Add("window.start", p.window->start);
    c.Add("window.end", p.window->end);
    c.Add("window.timeZone", p.window->time_zone);
    c.Add("window.days", p.window->days);
  }
  c.Add("lockTimeout", p.lock_timeout);
  c.Add("statementTimeout", p.statement_timeout);
  c.Add("lockWait", p.lock_wait);
  c.Add("retries.limit", static_cast<long long>(p.retries.limit));
  c.Add("retries.initial", p.retries.initial_backoff);
  c.Add("retries.max", p.retries.max_backoff);
  c.Add("onFailure", std::string(OnFailureName(p.on_failure)));
  c.Add("acceptDrift", p.accept_drift);
  c.Add("failOnLintErrors", p.fail_on_lint_errors);
  c.Add("blockedSessionLimit", p.blocked_session_limit);
  c.Add("verify.settle", p.verify_settle);
  // Only when changed: older spec hashes stay valid (it shapes when the watch connects, not what runs).
  if (p.lock_watch_after != std::chrono::milliseconds(1000)) c.Add("lockWatchAfter", p.lock_watch_after);
  if (p.allow_downgrade) c.Add("allowDowngrade", true);  // only when set: older spec hashes stay valid
  if (p.rehearse) c.Add("rehearse", true);                // only when set: older spec hashes stay valid
  if (p.rehearse_on_set) {                                 // only when set: older spec hashes stay valid
    c.Add("rehearseOn.kind", static_cast<long long>(p.rehearse_on.kind));
    c.Add("rehearseOn.env", p.rehearse_on.env);
    c.Add("rehearseOn.file", p.rehearse_on.file);
    c.Add("rehearseOn.secretName", p.rehearse_on.secret_name);
    c.Add("rehearseOn.secretKey", p.rehearse_on.secret_key);
  }
  // Only when set: older spec hashes stay valid. The approved contract hash is not desired state.
  if (p.contract_after.count() > 0) c.Add("contract.after", p.contract_after);
  if (p.contract_approval_required) c.Add("contract.approvalRequired", true);
  if (!su.depends_on.empty()) {  // only when set: older spec hashes stay valid
    std::vector<std::string> names;
    for (const auto& d : su.depends_on) names.push_back(d.name);
    c.Add("dependsOn", names);
  }
  if (!su.upgrade_path.empty()) {  // only when set: older spec hashes stay valid
    std::vector<std::string> path;
    for (const auto& e : su.upgrade_path) path.push_back(e.version + "@" + e.migrations_up_to);
    c.Add("upgradePath", path);
  }
  if (p.step_through) c.Add("stepThrough", true);
  return Sha256Hex(c.text());
}

}  // namespace su
