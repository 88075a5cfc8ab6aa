// PodmanContainerRuntime: one-off containers with `podman run --rm` (see podman.h). Env values ride
// in the podman process's environment, referenced by name in argv, so `ps` never shows them.
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <random>
#include <sstream>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/runtimes/podman/podman.h"

namespace su {
namespace {

// A container that has stayed "created" this long was never going to be started by its client.
constexpr std::chrono::seconds kNeverStartedAfter{600};

bool IsEnvName(const std::string& n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Names the podman process itself reads: handing them to the container through podman's own
// environment would change how podman runs.
bool IsReservedForPodman(const std::string& n) {
  static const char* kExact[] = {"PATH", "HOME", "TMPDIR", "REGISTRY_AUTH_FILE", "SHELL", "USER"};
  for (const char* e : kExact) {
    if (n == e) return true;
  }
  return n.rfind("LD_", 0) == 0 || n.rfind("CONTAINERS_", 0) == 0 || n.rfind("XDG_", 0) == 0;
}

std::string GeneratedName() {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  return "su-run-" + std::to_string(getpid()) + "-" + std::to_string(salt % 100000) + "-" +
         std::to_string(counter++);
}

class PodmanContainerRuntime : public ContainerRuntime {
 public:
  PodmanContainerRuntime(ProcessRunner* runner, PodmanConfig config)
      : runner_(runner), config_(std::move(config)) {}

  Result<ProcessResult> RunOnce(const ContainerRunSpec& spec) override {
    if (spec.folder_from_image) {
      return Status::Invalid("podman run: a folder copied in from another image (an init container) is for "
                             "Kubernetes Jobs; the Podman mode reads such folders with podman cp");
    }
    auto r = RunOnceNamed(spec);
    // A fixed name still taken by a container that has *finished* is a leftover of a killed caller
    // (its client died before --rm could act): remove it and run. Anything else stays an error (the
    // caller waits), notably a container that exists but does not run *yet*: a killed caller's
    // podman client, which lives on, creates the container and starts it a moment later (seconds on
    // a loaded machine), and `State.Running` is false in between.
    if (!r.ok() && !spec.name.empty() && r.status().message().find("already in use") != std::string::npos &&
        LeftoverFinished(spec.name) && RemoveFinished(spec.name)) {
      r = RunOnceNamed(spec);
    }
    return r;
  }

  Result<ProcessResult> RunOnceNamed(const ContainerRunSpec& spec) {
    std::string name = spec.name.empty() ? GeneratedName() : spec.name;
    SU_ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildRunArgv(spec, config_, name));
    ProcessSpec ps;
    ps.argv = argv;
    ps.env = config_.env;
    for (const auto& [k, v] : spec.env) ps.env[k] = v;
    ps.timeout = spec.timeout;
    ps.on_output = spec.on_output;
    ps.cancelled = spec.cancelled;
    LogInfo("podman_run", {{"image", spec.image}, {"name", name}, {"argv", FormatArgv(argv)}});
    Result<ProcessResult> r = runner_->Run(ps);
    // Killing the podman client does not stop the container: remove it so nothing keeps running.
    if (!r.ok() || r->timed_out) {
      RemoveContainer(name);
      if (!r.ok()) return r.status().WithContext("podman run " + spec.image);
      return r;
    }
    // 125 is podman's own failure (no image, bad option, runtime error), not the container's exit.
    if (r->exit_code == 125 && r->err.find("Error:") != std::string::npos) {
      std::string tail = Scrub(r->Tail(10));
      Result<bool> exists = ImageExists(spec.image);
      if (exists.ok() && !*exists) {
        return Status::Error(Code::kNotFound, "image " + spec.image + " is not present and could not be pulled: " + tail);
      }
      return Status::Error(Code::kUnavailable, "podman could not run " + spec.image + ": " + tail);
    }
    return r;
  }

  Result<bool> ImageExists(const std::string& image) override {
    ProcessSpec ps;
    ps.argv = {config_.podman, "image", "exists", image};
    ps.env = config_.env;
    ps.timeout = config_.command_timeout;
    SU_ASSIGN_OR_RETURN(ProcessResult r, runner_->Run(ps));
    if (r.exit_code == 0) return true;
    if (r.exit_code == 1) return false;
    return Status::Error(Code::kUnavailable, "podman image exists " + image + " failed: " + Scrub(r.Tail(5)));
  }

 private:
  // True only when the container named `name` has run and finished (exited, stopped), or was
  // created long ago and never started (its client died before starting it). Unknown counts as
  // busy: never remove what might still be migrating.
  bool LeftoverFinished(const std::string& name) {
    ProcessSpec ps;
    ps.argv = {config_.podman, "inspect", "--type", "container", "--format", "{{.State.Status}} {{.Created.Unix}}", name};
    ps.env = config_.env;
    ps.timeout = config_.command_timeout;
    Result<ProcessResult> r = runner_->Run(ps);
    if (!r.ok() || !r->Succeeded()) return false;
    std::istringstream in(r->out);
    std::string state;
    long long created = 0;
    in >> state >> created;
    if (state == "exited" || state == "stopped") return true;
    if (state == "created" || state == "configured") {
      long long age = static_cast<long long>(std::time(nullptr)) - created;
      return created > 0 && age > kNeverStartedAfter.count();
    }
    return false;
  }

  // `podman rm` without -f: podman refuses to remove a container that started meanwhile, which
  // closes the gap between LeftoverFinished and the removal.
  bool RemoveFinished(const std::string& name) {
    ProcessSpec ps;
    ps.argv = {config_.podman, "rm", "--ignore", name};
    ps.env = config_.env;
    ps.timeout = config_.command_timeout;
    Result<ProcessResult> r = runner_->Run(ps);
    bool ok = r.ok() && r->Succeeded();
    LogInfo("podman_remove_leftover", {{"name", name}, {"removed", ok ? "yes" : "no"},
                                       {"error", ok ? "" : r.ok() ? Scrub(r->Tail(3)) : r.status().message()}});
    return ok;
  }

  void RemoveContainer(const std::string& name) {
    ProcessSpec ps;
    ps.argv = {config_.podman, "rm", "-f", "-t", "0", "--ignore", name};
    ps.env = config_.env;
    ps.timeout = config_.command_timeout;
    Result<ProcessResult> r = runner_->Run(ps);
    if (!r.ok() || !r->Succeeded()) {
      LogWarn("podman_rm_failed", {{"name", name}, {"error", r.ok() ? r->Tail(3) : r.status().message()}});
    }
  }

  ProcessRunner* runner_;
  PodmanConfig config_;
};

}  // namespace

Result<std::vector<std::string>> BuildRunArgv(const ContainerRunSpec& spec, const PodmanConfig& config,
                                              const std::string& container_name) {
  if (spec.image.empty()) return Status::Invalid("podman run: empty image");
  if (!spec.claim_mounts.empty()) {
    return Status::Invalid("podman run: PersistentVolumeClaim " + spec.claim_mounts.front().claim +
                           " cannot be mounted by the Podman runtime (Kubernetes only)");
  }
  if (!spec.env_from_secret.empty()) {
    return Status::Invalid("podman run: environment variable " + spec.env_from_secret.begin()->first +
                           " is to come from Kubernetes Secret " + spec.env_from_secret.begin()->second.name +
                           ", which podman cannot read; use dsnFrom.env or dsnFrom.file in the Podman mode");
  }
  std::vector<std::string> argv = {config.podman, "run", "--rm"};
  if (!spec.network.empty()) argv.insert(argv.end(), {"--network", spec.network});
  if (!config.pull.empty()) argv.insert(argv.end(), {"--pull", config.pull});
  if (!container_name.empty()) argv.insert(argv.end(), {"--name", container_name});
  if (!spec.entrypoint.empty()) argv.insert(argv.end(), {"--entrypoint", spec.entrypoint[0]});
  for (const auto& [k, v] : spec.env) {
    if (!IsEnvName(k)) return Status::Invalid("podman run: \"" + k + "\" is not a valid environment variable name");
    if (IsReservedForPodman(k)) {
      return Status::Invalid("podman run: environment variable " + k +
                             " cannot be passed to the container (podman itself reads it); rename it");
    }
    argv.insert(argv.end(), {"--env", k});
  }
  argv.push_back(spec.image);
  for (size_t i = 1; i < spec.entrypoint.size(); ++i) argv.push_back(spec.entrypoint[i]);
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  return argv;
}

std::unique_ptr<ContainerRuntime> NewPodmanContainerRuntime(ProcessRunner* runner, PodmanConfig config) {
  return std::make_unique<PodmanContainerRuntime>(runner, std::move(config));
}

std::unique_ptr<ContainerRuntime> NewPodmanContainerRuntime(ProcessRunner* runner,
                                                            std::map<std::string, std::string> extra_env) {
  PodmanConfig c;
  c.env = std::move(extra_env);
  return NewPodmanContainerRuntime(runner, std::move(c));
}

}  // namespace su
