// Backups on Kubernetes: dump and restore as Jobs mounting the claim (see kube_backup.h).
#include "controller/cli/kube_backup.h"

#include "controller/cli/backup_job.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/backup_files.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"

namespace su {
namespace {

const kube::GroupVersionResource kClaims{"", "v1", "persistentvolumeclaims", true};
constexpr const char* kScheme = "pvc://";
// The backup pod's fsGroup: the claim is group-writable for the image's non-root user (65532 in
// the project's Containerfile) whatever the volume's owner.
constexpr int64_t kBackupFsGroup = 65532;

ContainerRunSpec BaseRun(const SchemaUpgrade& su, const std::string& image, const std::string& claim) {
  ContainerRunSpec r;
  r.image = image;  // its ENTRYPOINT is the schema-upgrade binary
  r.env_from_secret[kBackupDsnEnv] = {su.dsn.secret_name, su.dsn.secret_key};
  r.claim_mounts.push_back({claim, "", kBackupMountPath, false});
  return r;
}

Status NeedsSecret(const SchemaUpgrade& su) {
  if (su.dsn.kind == DsnSource::Kind::kSecretKeyRef) return Status::Ok();
  return Status::Invalid("spec.database.dsnFrom: the backup Job reads the DSN from a Secret (never written into "
                         "the Job): use dsnFrom.secretKeyRef {name, key}");
}

class KubeBackupTool : public BackupTool {
 public:
  KubeBackupTool(KubeBackupSettings s, const SchemaUpgrade& su) : s_(std::move(s)), su_(su), api_(s_.api) {
    KubeJobOptions o;
    o.api = s_.api;
    o.clock = s_.clock;
    o.ns = su.namespace_;
    o.name = su.name;
    o.uid = su.uid;
    // No workload: the pod is the controller's image, not the app's; nothing to inherit.
    o.ttl_after_finished = s_.job_ttl;
    o.default_deadline = s_.job_deadline;
    o.poll_interval = s_.poll_interval;
    o.fs_group = kBackupFsGroup;
    jobs_ = NewKubeJobRuntime(o);
  }

  std::string RemoteFolder() const override { return BackupClaimFolder(su_); }

  Result<BackupFile> Backup(const std::string&, const std::string& path) override {
    SU_ASSIGN_OR_RETURN(ContainerRunSpec run, BackupDumpRun(su_, s_.image, path));
    SU_ASSIGN_OR_RETURN(auto split, SplitClaimPath(path));
    SU_RETURN_IF_ERROR(CheckClaim(split.first));
    SU_ASSIGN_OR_RETURN(BackupJobResult r, Run(run, "backup"));
    BackupFile f;
    f.path = path;
    f.size_bytes = r.size_bytes;
    const std::string mount = std::string(kBackupMountPath) + "/";
    for (const auto& p : r.pruned) {
      if (p.rfind(mount, 0) == 0) f.pruned.push_back(kScheme + split.first + "/" + p.substr(mount.size()));
    }
    return f;
  }

  Result<RestoreReport> Restore(const std::string&, const std::string& path, const RestoreOptions& options) override {
    SU_ASSIGN_OR_RETURN(ContainerRunSpec run, BackupRestoreRun(su_, s_.image, path, options));
    SU_ASSIGN_OR_RETURN(auto split, SplitClaimPath(path));
    SU_RETURN_IF_ERROR(CheckClaim(split.first));
    SU_ASSIGN_OR_RETURN(BackupJobResult r, Run(run, "restore"));
    RestoreReport rep;
    rep.restored = r.restored;
    rep.writes_since = r.writes_since;
    rep.writes_detail = r.writes_detail;
    rep.audit_recorded = r.audit_recorded;
    return rep;
  }

 private:
  Status CheckClaim(const std::string& claim) {
    auto got = api_->Get(kube::ResourcePath{kClaims, su_.namespace_, claim});
    if (got.ok()) return Status::Ok();
    if (got.error().IsNotFound()) {
      return Status::Error(Code::kNotFound, "PersistentVolumeClaim " + su_.namespace_ + "/" + claim +
                                                " (spec.policy.backup.pvc.claimName) does not exist; create it in the "
                                                "SchemaUpgrade's namespace, then run again");
    }
    if (got.error().IsForbidden() || got.error().IsUnauthorized()) {
      return Status::Failed("reading PersistentVolumeClaim " + su_.namespace_ + "/" + claim + ": " +
                            got.error().Describe() +
                            "; grant the controller's ServiceAccount get on persistentvolumeclaims "
                            "(manifests/rbac.yaml, the chart)");
    }
    return Status::Error(got.error().ToStatus().code(),
                         "reading PersistentVolumeClaim " + su_.namespace_ + "/" + claim + ": " + got.error().Describe());
  }

  // Runs the Job and reads its result line; a Job that ended without one failed before the tool
  // ran (image without the binary, pod killed): its last log lines say why.
  Result<BackupJobResult> Run(ContainerRunSpec run, const std::string& what) {
    run.cancelled = s_.cancelled;
    auto pr = jobs_->RunOnce(run);
    if (!pr.ok()) return pr.status().WithContext(what + " Job");
    auto r = ParseBackupJobResult(pr->out);
    std::string where = Scrub(pr->err);
    while (!where.empty() && where.back() == '\n') where.pop_back();
    if (!r.ok()) {
      if (pr->timed_out) {
        return Status::Error(Code::kTimeout, what + " Job ran past its deadline (--migration-job-deadline); " + where);
      }
      return Status::Failed(what + " Job in image " + s_.image + " ended (exit " + std::to_string(pr->exit_code) +
                            ") without a result: " + Scrub(pr->Tail(10)) + (where.empty() ? "" : "; " + where));
    }
    if (r->code != Code::kOk) {
      return Status::Error(r->code, what + " Job: " + r->message + (where.empty() ? "" : "; " + where));
    }
    return *r;
  }

  KubeBackupSettings s_;
  SchemaUpgrade su_;
  kube::KubeApi* api_;  // s_.api, named so tests/integration/deploy/rbac_calls.py reads the calls
  std::unique_ptr<ContainerRuntime> jobs_;
};

}  // namespace

std::string BackupClaimFolder(const SchemaUpgrade& su) {
  const auto& p = su.policy;
  return kScheme + p.backup_pvc_claim + (p.backup_pvc_sub_path.empty() ? "" : "/" + p.backup_pvc_sub_path);
}

Result<std::pair<std::string, std::string>> SplitClaimPath(const std::string& path) {
  const std::string scheme = kScheme;
  if (path.rfind(scheme, 0) != 0) return Status::Invalid(path + " is not a backup on a claim (pvc://<claim>/<file>)");
  std::string rest = path.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size() || rest.find("..") != std::string::npos) {
    return Status::Invalid(path + " is not a backup on a claim (pvc://<claim>/<file>)");
  }
  return std::make_pair(rest.substr(0, slash), rest.substr(slash + 1));
}

Result<ContainerRunSpec> BackupDumpRun(const SchemaUpgrade& su, const std::string& image, const std::string& path) {
  SU_RETURN_IF_ERROR(NeedsSecret(su));
  SU_ASSIGN_OR_RETURN(auto split, SplitClaimPath(path));
  ContainerRunSpec r = BaseRun(su, image, split.first);
  r.args = {"backup-job", "dump", "--file", std::string(kBackupMountPath) + "/" + split.second};
  if (su.policy.backup_retention > 0) {
    r.args.insert(r.args.end(), {"--retention", std::to_string(su.policy.backup_retention), "--prefix",
                                 BackupPrefix(su.namespace_, su.name)});
  }
  return r;
}

Result<ContainerRunSpec> BackupRestoreRun(const SchemaUpgrade& su, const std::string& image, const std::string& path,
                                          const RestoreOptions& options) {
  SU_RETURN_IF_ERROR(NeedsSecret(su));
  SU_ASSIGN_OR_RETURN(auto split, SplitClaimPath(path));
  if (!options.backup_snapshot.empty()) SU_RETURN_IF_ERROR(CheckSnapshotText(options.backup_snapshot));
  ContainerRunSpec r = BaseRun(su, image, split.first);
  r.args = {"backup-job", "restore", "--file", std::string(kBackupMountPath) + "/" + split.second};
  if (!options.backup_snapshot.empty()) r.args.insert(r.args.end(), {"--snapshot", options.backup_snapshot});
  if (options.lock_timeout.count() > 0) r.args.insert(r.args.end(), {"--lock-timeout", FormatDuration(options.lock_timeout)});
  if (options.allow_data_loss) r.args.push_back("--allow-data-loss");
  if (!options.application_name.empty()) r.args.insert(r.args.end(), {"--application-name", options.application_name});
  if (options.audit_row) {
    // No actor: the Job's own user@host is recorded, so a restarted controller builds the same
    // arguments (the Job's name hashes them) and adopts the Job instead of starting another.
    const AuditEntry& a = *options.audit_row;
    for (const auto& [flag, v] : {std::pair<std::string, std::string>{"--audit-resource", a.resource},
                                  {"--audit-version", a.version}, {"--audit-name", a.name}, {"--audit-detail", a.detail}}) {
      if (!v.empty()) r.args.insert(r.args.end(), {flag, v});  // the flags take no empty value
    }
  }
  return r;
}

BackupToolFactory KubeBackupFactory(KubeBackupSettings s) {
  return [s](const SchemaUpgrade& su) -> Result<std::unique_ptr<BackupTool>> {
    if (su.policy.backup_pvc_claim.empty()) {
      return Status::Invalid("spec.policy.backup.pvc: backups on Kubernetes are written by a Job to a "
                             "PersistentVolumeClaim; set pvc.claimName (and optionally pvc.subPath)");
    }
    if (s.image.empty()) {
      return Status::Invalid("backups on Kubernetes run the controller's own image as a Job: start the controller "
                             "with --controller-image IMAGE (or $SU_CONTROLLER_IMAGE)");
    }
    SU_RETURN_IF_ERROR(NeedsSecret(su));
    return std::unique_ptr<BackupTool>(std::make_unique<KubeBackupTool>(s, su));
  };
}

}  // namespace su
