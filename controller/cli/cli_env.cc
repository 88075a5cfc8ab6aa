// Real wiring of the edges (see cli_env.h).
#include "controller/cli/cli_env.h"

#include <cstdlib>

#include "api/conditions.h"
#include "controller/cli/progress.h"
#include "reconcilers/base/log.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/runtimes/podman/podman.h"
#include "reconcilers/runtimes/podman/podman_folder_reader.h"
#include "reconcilers/runtimes/podman/verify.h"
#include "reconcilers/schemaupgrade/lock_watch.h"

namespace su {

std::unique_ptr<CliEnv> MakeCliEnv(const CliEnvOptions& o) {
  auto env = std::make_unique<CliEnv>();
  env->state_dir = o.state_dir;
  if (env->state_dir.empty()) {
    const char* e = std::getenv("SU_STATE_DIR");
    env->state_dir = e && *e ? e : "./.state";
  }
  env->compose_file = o.compose_file;
  FileSystem* fs = LocalFileSystem();
  env->store = NewDirStatusStore(fs, JoinPath(env->state_dir, "status"));
  env->backup = NewPgBackupTool(PosixProcessRunner());
  PodmanConfig podman;
  podman.fs = fs;
  env->containers = NewPodmanContainerRuntime(PosixProcessRunner(), podman);
  env->workloads = NewComposeWorkloadRuntime(PosixProcessRunner(), podman);

  ReconcilerDeps& d = env->deps;
  d.clock = RealClock();
  d.fs = fs;
  d.store = env->store.get();
  d.connect = [](const std::string& dsn, const std::string& app) { return ConnectPostgres(dsn, app); };
  ContainerRuntime* rt = env->containers.get();
  // migrations.source image: copied out of the target image (podman cp), remembered per image.
  env->folders = NewCachingFolderReader(NewPodmanFolderReader(PosixProcessRunner(), podman));
  MigrationFolderReader* folders = env->folders.get();
  d.make_engine = [fs, rt, folders](const SchemaUpgrade& su, const std::string& dsn, const std::string& image) {
    return MakeEngineForSource(su, dsn, image, fs, rt, folders);
  };
  d.workloads = env->workloads.get();
  d.verify = [](WorkloadRuntime* w, const WorkloadRef& ref, const std::string& image, std::chrono::milliseconds settle,
                Clock* clock) { return VerifyRunning(w, ref, image, settle, clock); };
  d.backup = env->backup.get();
  d.watch = [](const std::string& dsn) { return NewPgMigrationWatch(dsn); };
  d.default_backup_dir = JoinPath(env->state_dir, "backups");
  if (o.progress) d.on_progress = TerminalProgress();
  d.on_event = [](const std::string& key, const std::string& type, const std::string& reason,
                  const std::string& message) {
    Log(type == event_type::kWarning ? LogLevel::kWarn : LogLevel::kInfo, "event",
        {{"resource", key}, {"type", type}, {"reason", reason}, {"message", message}});
  };
  return env;
}

Status CheckStateDir(const std::string& state_dir) {
  FileSystem* fs = LocalFileSystem();
  const std::string what = "state dir " + state_dir + " (--state-dir or $SU_STATE_DIR)";
  if (fs->Exists(state_dir) && !fs->IsDir(state_dir)) {
    return Status::Invalid(what + ": is not a folder; expected a folder for status files and backups");
  }
  Status s = fs->MakeDirs(JoinPath(state_dir, "status"));
  if (!s.ok()) return Status::Invalid(what + ": " + s.message() + "; expected a writable folder");
  return Status::Ok();
}

void ApplyCliDefaults(const CliEnv& env, SchemaUpgrade* su) {
  if (su->workload.kind == "ComposeService" && su->workload.compose_file.empty()) {
    su->workload.compose_file = env.compose_file;
  }
  // A Kubernetes workload lives in the SchemaUpgrade's namespace.
  if ((su->workload.kind == "Deployment" || su->workload.kind == "StatefulSet") && su->workload.ns.empty()) {
    su->workload.ns = su->namespace_;
  }
}

Result<std::vector<SchemaUpgrade>> LoadResources(const std::vector<std::string>& paths, const std::string& name) {
  if (paths.empty()) return Status::Invalid("no manifest given: pass -f FILE (or a folder of manifests)");
  std::vector<SchemaUpgrade> all;
  FileSystem* fs = LocalFileSystem();
  for (const auto& p : paths) {
    const bool dir = fs->IsDir(p);
    Result<std::vector<SchemaUpgrade>> r = dir ? LoadManifestDir(fs, p) : LoadManifestFile(fs, p);
    if (!r.ok()) return r.status();
    if (r->empty()) {
      return Status::Error(Code::kNotFound,
                           dir ? p + ": no SchemaUpgrade found: the folder holds no *.yaml or *.yml manifest with "
                                     "one; expected at least one SchemaUpgrade resource"
                               : p + ": no SchemaUpgrade found: the file is empty or holds only comments; expected a "
                                     "SchemaUpgrade resource (apiVersion, kind, metadata, spec)");
    }
    for (auto& s : *r) {
      if (name.empty() || s.name == name || s.Key() == name) all.push_back(std::move(s));
    }
  }
  if (all.empty()) {
    return Status::Error(Code::kNotFound, name.empty() ? "no SchemaUpgrade found in the given manifests"
                                                       : "no SchemaUpgrade named " + name + " in the given manifests");
  }
  return all;
}

}  // namespace su
