// Migration files out of a local image (see podman_folder_reader.h).
#include "reconcilers/runtimes/podman/podman_folder_reader.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "reconcilers/base/log.h"

namespace su {
namespace {

// Removes the scratch folder and the container, whatever happened in between.
class Cleanup {
 public:
  Cleanup(ProcessRunner* runner, const PodmanConfig& c) : runner_(runner), c_(c) {}
  ~Cleanup() {
    if (!container_.empty()) {
      ProcessSpec rm;
      rm.argv = {c_.podman, "rm", "-f", "--", container_};
      rm.env = c_.env;
      rm.timeout = std::chrono::minutes(1);
      auto r = runner_->Run(rm);
      if (!r.ok() || !r->Succeeded()) LogWarn("podman.rm_failed", {{"container", container_}});
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  std::string container_;
  std::string dir_;

 private:
  ProcessRunner* runner_;
  const PodmanConfig& c_;
};

class PodmanFolderReader : public MigrationFolderReader {
 public:
  PodmanFolderReader(ProcessRunner* runner, PodmanConfig c) : runner_(runner), c_(std::move(c)) {}

  Result<std::shared_ptr<const MigrationFolder>> FromImage(const SchemaUpgrade& su, const std::string& image) override {
    static std::atomic<int> counter{0};
    const std::string what = "reading " + su.migrations.path + " from image " + image + " (spec.migrations.source image)";
    Cleanup clean(runner_, c_);
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/su-image-folder.XXXXXX";
    if (!mkdtemp(templ.data())) return Status::Io(what + ": cannot create a scratch folder in $TMPDIR");
    clean.dir_ = templ;
    const std::string name = "su-read-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    ProcessSpec create;
    create.argv = {c_.podman, "create", "--pull", c_.pull, "--name", name, "--", image};
    create.env = c_.env;
    create.timeout = c_.command_timeout;
    SU_ASSIGN_OR_RETURN(ProcessResult cr, runner_->Run(create));
    if (!cr.Succeeded()) {
      return Status::Error(Code::kNotFound, what + ": podman create failed (is the image present or pullable?): " +
                                                cr.Tail(3));
    }
    clean.container_ = name;
    const std::string dest = clean.dir_ + "/folder";
    ProcessSpec cp;
    cp.argv = {c_.podman, "cp", name + ":" + su.migrations.path, dest};
    cp.env = c_.env;
    cp.timeout = c_.command_timeout;
    SU_ASSIGN_OR_RETURN(ProcessResult cpr, runner_->Run(cp));
    if (!cpr.Succeeded()) {
      return Status::Invalid(what + ": the image has no folder " + su.migrations.path + " (" + cpr.Tail(2) +
                             "); fix spec.migrations.path");
    }
    auto f = ReadLocalMigrationFolder(LocalFileSystem(), dest, su.migrations.engine);
    if (!f.ok()) return f.status().WithContext(what);
    f->origin = "image:" + image + ":" + su.migrations.path;
    return std::shared_ptr<const MigrationFolder>(std::make_shared<MigrationFolder>(std::move(f).value()));
  }

  Result<std::shared_ptr<const MigrationFolder>> FromConfigMap(const SchemaUpgrade& su) override {
    return Status::Invalid((su.source_file.empty() ? su.Key() : su.source_file) +
                           ": spec.migrations.source configMap needs the Kubernetes mode (controller --kubernetes); "
                           "in the Podman mode use source controller with the folder, or source image");
  }

 private:
  ProcessRunner* runner_;
  PodmanConfig c_;
};

}  // namespace

std::unique_ptr<MigrationFolderReader> NewPodmanFolderReader(ProcessRunner* runner, PodmanConfig config) {
  return std::make_unique<PodmanFolderReader>(runner, std::move(config));
}

}  // namespace su
