// Reconciler entry point, backoff arithmetic and the pg_dump backup tool (see reconciler.h); the
// pass itself is in pass.h / pass_*.cc.
#include "reconcilers/schemaupgrade/reconciler.h"

#include <algorithm>

#include "reconcilers/base/sha256.h"
#include "reconcilers/schemaupgrade/pass.h"

namespace su {

std::chrono::milliseconds BackoffFor(const RetryPolicy& p, int n) {
  long long ms = p.initial_backoff.count();
  for (int i = 1; i < n && ms < p.max_backoff.count(); ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<long long>(ms, p.max_backoff.count()));
}

namespace reconcile_internal {

bool Transient(const Status& s) {
  switch (s.code()) {
    case Code::kUnavailable:
    case Code::kConflict:
    case Code::kLockBusy:
    case Code::kLockTimeout:
    case Code::kCancelled:
    case Code::kTimeout:
      return true;
    default:
      return false;
  }
}

std::string SpecToken(const SchemaUpgrade& su) {
  std::string retry;
  auto it = su.annotations.find(kRetryAnnotation);
  if (it != su.annotations.end()) retry = it->second;
  return Sha256Hex(su.spec_hash + "|" + retry).substr(0, 16);
}


}  // namespace reconcile_internal

Reconciler::Reconciler(ReconcilerDeps deps) : deps_(std::move(deps)) {}

ReconcileOutcome Reconciler::Reconcile(const SchemaUpgrade& su, const ReconcileOptions& options) {
  if (!su.policy.step_through || su.upgrade_path.empty()) {
    reconcile_internal::Pass pass(deps_, su, options);
    return pass.Run();
  }
  // policy.stepThrough: one pass per release of the path, each chosen from the world (the
  // workload's declared tag and this spec's status; path_step.h), until a pass stops or reaches
  // the target. A read that fails here leaves the choice to the pass, which refuses a jump.
  ReconcileOutcome out;
  for (size_t i = 0; i <= su.upgrade_path.size() + 1; ++i) {
    std::string declared;
    if (deps_.workloads && !su.workload.kind.empty()) {
      auto d = deps_.workloads->DeclaredImage(su.workload);
      if (d.ok()) declared = *d;
    }
    std::optional<ResourceStatus> st;
    if (auto loaded = deps_.store->Load(su.Key()); loaded.ok()) st = *loaded;
    PathStepChoice c = ChoosePathStep(su, declared, st ? &*st : nullptr, reconcile_internal::SpecToken(su));
    if (!c.stepping) {
      reconcile_internal::Pass pass(deps_, su, options, &c);
      return pass.Run();
    }
    SchemaUpgrade step = StepSpec(su, c.step);
    reconcile_internal::Pass pass(deps_, step, options, &c);
    out = pass.Run();
    if (out.path_step_reached.empty() || options.dry_run) return out;
  }
  return out;
}

namespace {

class PgBackupTool : public BackupTool {
 public:
  explicit PgBackupTool(ProcessRunner* runner) : runner_(runner) {}
  Result<BackupFile> Backup(const std::string& dsn, const std::string& path) override { return PgDump(runner_, dsn, path); }
  Result<RestoreReport> Restore(const std::string& dsn, const std::string& path,
                                const RestoreOptions& options) override {
    return PgRestore(runner_, dsn, path, options);
  }

 private:
  ProcessRunner* runner_;
};

}  // namespace

std::unique_ptr<BackupTool> NewPgBackupTool(ProcessRunner* runner) { return std::make_unique<PgBackupTool>(runner); }

}  // namespace su
