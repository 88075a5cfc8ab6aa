// ComposeWorkloadRuntime: a podman-compose service as a WorkloadRuntime (see podman.h for the
// Rollout sequence and why podman-compose 1.0.3 needs it).
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <optional>
#include <filesystem>

#include "reconcilers/base/crash_point.h"
#include "reconcilers/base/file_lock.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/runtimes/podman/compose_edit.h"
#include "reconcilers/runtimes/podman/compose_interp.h"
#include "reconcilers/runtimes/podman/podman.h"

namespace su {
namespace {

std::string ServiceOf(const WorkloadRef& w) { return w.service.empty() ? w.name : w.service; }
std::string ProjectName(const std::string& compose_file);

class ComposeWorkloadRuntime : public WorkloadRuntime {
 public:
  ComposeWorkloadRuntime(ProcessRunner* runner, PodmanConfig config)
      : runner_(runner), config_(std::move(config)), fs_(config_.fs ? config_.fs : LocalFileSystem()) {}

  Result<std::string> DeclaredImage(const WorkloadRef& w) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    SU_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(w.compose_file));
    Result<std::string> image = ResolvedImage(w, text);
    if (!image.ok()) return image.status().WithContext(w.compose_file);
    return image;
  }

  Status SetDeclaredImage(const WorkloadRef& w, const std::string& from, const std::string& to) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    const std::string& file = w.compose_file;
    const std::string svc = "service \"" + ServiceOf(w) + "\"";
    if (!IsValidImageReference(to)) return Status::Invalid(file + ": " + svc + ": \"" + to + "\" is not a valid image reference");
    SU_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(file, config_.file_lock_wait));
    constexpr int kAttempts = 5;
    for (int attempt = 1;; ++attempt) {
      // Read under the lock: a cooperating editor's write is complete and visible now.
      SU_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(file));
      // The image as podman-compose resolves it (interpolation included): what `from` was read as.
      Result<std::string> current = ResolvedImage(w, text);
      if (!current.ok()) return current.status().WithContext(file);
      if (*current == to) return Status::Ok();
      if (!from.empty() && *current != from) {
        return Status::Error(Code::kConflict, file + ": " + svc + " now declares " + *current + ", not " + from +
                                                  " as when this upgrade read it (edited since); not overwriting it "
                                                  "with " + to + ": the next attempt reads it again");
      }
      Result<std::string> edited = EditedText(w, text, to);  // inside ${...} when interpolated
      if (!edited.ok()) return edited.status().WithContext(file);
      // Editors that do not take the lock (a person, GitOps) may have written since the read above:
      // replacing the file now would silently drop their change. Start again from their text.
      SU_ASSIGN_OR_RETURN(std::string again, fs_->ReadFile(file));
      if (again != text) {
        LogInfo("compose_changed_while_editing", {{"file", file}, {"service", ServiceOf(w)}, {"attempt", std::to_string(attempt)}});
        if (attempt < kAttempts) continue;
        return Status::Error(Code::kConflict, file + " changed " + std::to_string(kAttempts) +
                                                  " times while " + svc + " was being edited; not overwriting it: "
                                                  "the next attempt tries again");
      }
      SU_RETURN_IF_ERROR(fs_->WriteFileAtomic(file, *edited));
      // Read back what readers will see, still under the lock: it must parse and name the new image.
      SU_ASSIGN_OR_RETURN(std::string now, DeclaredImage(w));
      if (now != to) {
        return Status::Error(Code::kConflict, file + ": after writing, " + svc + " declares " + now + ", not " + to +
                                                  " (edited at the same moment by someone else)");
      }
      LogInfo("compose_image_set", {{"file", file}, {"service", ServiceOf(w)}, {"from", *current}, {"image", to}});
      return Status::Ok();
    }
  }

  Status Rollout(const WorkloadRef& w, const std::string& image) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    SU_ASSIGN_OR_RETURN(std::string name, ComposeContainerName(fs_, w));
    // Outside the lock: a pull may take minutes, and other services' bumps need not wait for it.
    SU_RETURN_IF_ERROR(EnsureImage(image));
    // Held until the container exists: podman-compose reads the file itself, and no cooperating
    // editor may change it between our check and that read.
    SU_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(w.compose_file, config_.file_lock_wait));
    SU_ASSIGN_OR_RETURN(std::string declared, DeclaredImage(w));
    if (!SameImage(declared, image)) {
      return Status::Error(Code::kConflict, w.compose_file + ": service \"" + ServiceOf(w) + "\" declares " + declared +
                                                ", not " + image + " (edited since it was written or read); no "
                                                "container started from it, the running one left alone");
    }

    SU_ASSIGN_OR_RETURN(ProcessResult rm, Podman({"rm", "-f", "--ignore", "-t", std::to_string(config_.stop_timeout.count()), name}));
    if (!rm.Succeeded()) {
      return Status::Error(Code::kUnavailable, "podman rm " + name + " failed: " + Scrub(rm.Tail(5)));
    }
    CrashPoint("rollout-after-rm");  // old container gone, new one not yet created
    ProcessSpec ps = Spec({config_.podman_compose, "-f", w.compose_file, "up", "-d", "--no-deps", ServiceOf(w)});
    ps.cwd = DirName(std::filesystem::absolute(w.compose_file).string());
    LogInfo("compose_up", {{"argv", FormatArgv(ps.argv)}, {"container", name}, {"image", image}});
    Result<ProcessResult> up = runner_->Run(ps);
    if (!up.ok()) return up.status().WithContext("podman-compose up " + ServiceOf(w));
    // podman-compose 1.0.3 exits 0 even when `podman run` failed: the container must exist now.
    SU_ASSIGN_OR_RETURN(WorkloadStatus st, Inspect(name));
    if (!up->Succeeded() || !st.exists) {
      return Status::Failed("podman-compose up -d " + ServiceOf(w) + " did not create container " + name +
                            " (exit " + std::to_string(up->exit_code) + "): " + Scrub(up->Tail(10)));
    }
    if (!st.image.empty() && !SameImage(image, st.image)) {
      return Status::Error(Code::kConflict, "podman-compose started " + name + " from " + st.image + ", not " + image +
                                                ": " + w.compose_file + " was edited while it started");
    }
    return Status::Ok();
  }

  Result<BumpPreflight> PreflightBump(const WorkloadRef& w, const std::string& target, bool fetch) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    SU_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(w.compose_file));
    BumpPreflight p;
    p.target = target;
    Result<std::string> raw = GetServiceImage(text, ServiceOf(w));
    if (!raw.ok()) return raw.status().WithContext(w.compose_file);
    p.declared = *raw;
    // The edit SetDeclaredImage would make, in memory, then read back the way the bump's own
    // read-back (and podman-compose) would: it must parse and resolve to the target.
    Result<std::string> edited = EditedText(w, text, target);
    if (!edited.ok()) return edited.status().WithContext(w.compose_file);
    Result<std::string> again = GetServiceImage(*edited, ServiceOf(w));
    if (!again.ok()) return again.status().WithContext(w.compose_file + " (after the edit, in memory)");
    p.written = *again;
    Result<std::string> resolved = ResolvedImage(w, *edited);
    if (!resolved.ok()) return resolved.status().WithContext(w.compose_file + " (after the edit, in memory)");
    if (*resolved != target) {
      return Status::Invalid(w.compose_file + ": service \"" + ServiceOf(w) + "\" would declare " + *resolved +
                             " after the edit, not " + target + "; the file was left unchanged");
    }
    if (HasInterpolation(p.declared) && p.written != p.declared) {
      Result<InterpolatedEdit> how = EditInterpolated(p.declared, target, Lookup(w));
      p.note = w.compose_file + " declares " + ServiceOf(w) + "'s image as `" + p.declared +
               "` (compose interpolation); the bump edits " + (how.ok() ? how->where : std::string("it")) +
               " and writes `" + p.written + "`, keeping the variable";
    }
    SU_ASSIGN_OR_RETURN(ProcessResult ex, Podman({"image", "exists", target}));
    if (ex.exit_code != 0 && ex.exit_code != 1) {
      return Status::Error(Code::kUnavailable, "podman image exists " + target + ": " + Scrub(ex.Tail(5)));
    }
    p.image_present = ex.exit_code == 0;
    if (p.image_present || !fetch) return p;
    SU_RETURN_IF_ERROR(EnsureImage(target));
    p.image_present = true;
    p.pulled = true;
    return p;
  }

  Result<WorkloadStatus> Observe(const WorkloadRef& w) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    SU_ASSIGN_OR_RETURN(std::string name, ComposeContainerName(fs_, w));
    return Inspect(name);
  }

  // Expand/contract: the container Rollout manages, plus every other running container podman-
  // compose labelled as this service of this project (scaled copies, `podman-compose run`, one
  // started again by hand). `podman ps --format json` is parsed here (JSON is YAML).
  Result<std::vector<RunningInstance>> RunningInstances(const WorkloadRef& w) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    SU_ASSIGN_OR_RETURN(std::string name, ComposeContainerName(fs_, w));
    SU_ASSIGN_OR_RETURN(WorkloadStatus managed, Inspect(name));
    std::vector<RunningInstance> out;
    if (managed.running) out.push_back({managed.image, "container " + name});
    SU_ASSIGN_OR_RETURN(ProcessResult r, Podman({"ps", "--filter", "label=com.docker.compose.service=" + ServiceOf(w),
                                                 "--format", "json"}));
    if (!r.Succeeded()) return Status::Error(Code::kUnavailable, "podman ps: " + Scrub(r.Tail(5)));
    const std::string project = ProjectName(w.compose_file);
    try {
      const YAML::Node list = YAML::Load(r.out.empty() ? "[]" : r.out);
      for (const auto& c : list) {
        std::string cname;
        if (c["Names"] && c["Names"].IsSequence() && c["Names"].size() > 0) cname = c["Names"][0].as<std::string>("");
        if (cname == name) continue;  // the managed one, above
        const YAML::Node labels = c["Labels"];
        std::string p = labels && labels["com.docker.compose.project"] ? labels["com.docker.compose.project"].as<std::string>("") : "";
        if (p != project) continue;
        out.push_back({c["Image"] ? c["Image"].as<std::string>("") : "", "container " + cname});
      }
    } catch (const YAML::Exception& e) {
      return Status::Error(Code::kUnavailable, "podman ps --format json: unreadable output: " + std::string(e.what()));
    }
    return out;
  }

  Result<std::string> Logs(const WorkloadRef& w, int lines) override {
    SU_RETURN_IF_ERROR(CheckRef(w));
    SU_ASSIGN_OR_RETURN(std::string name, ComposeContainerName(fs_, w));
    // Collect stdout and stderr in arrival order: the container's own interleaving is what helps.
    std::string all;
    ProcessSpec ps = Spec({config_.podman, "logs", "--tail", std::to_string(lines), name});
    ps.on_output = [&all](const std::string& chunk, bool) { all += chunk; };
    SU_ASSIGN_OR_RETURN(ProcessResult r, runner_->Run(ps));
    if (!r.Succeeded()) return Status::Error(Code::kUnavailable, "podman logs " + name + ": " + Scrub(r.Tail(5)));
    if (all.empty()) all = r.out + r.err;  // runners that do not stream
    return Scrub(all);
  }

 private:
  Status CheckRef(const WorkloadRef& w) {
    if (w.kind != "ComposeService") return Status::Invalid("workload kind " + w.kind + " is not ComposeService");
    if (w.compose_file.empty()) {
      return Status::Invalid("workload " + w.name + ": spec.workload.composeFile is not set and no --compose default "
                             "was given; name the compose file in the manifest or pass --compose");
    }
    if (ServiceOf(w).empty()) return Status::Invalid("workload: name and service are both empty");
    return Status::Ok();
  }

  // Compose variables as podman-compose 1.0.3 sees them when Rollout runs it: its environment is
  // ours plus config_.env, and the compose file's folder's `.env` overrides both.
  ComposeLookup Lookup(const WorkloadRef& w) {
    std::string dotenv;
    std::string path = JoinPath(DirName(w.compose_file), ".env");
    if (fs_->Exists(path)) {
      if (auto t = fs_->ReadFile(path); t.ok()) dotenv = *t;
    }
    std::map<std::string, std::string> env = config_.env;
    return [dotenv, env](const std::string& name) -> std::optional<std::string> {
      if (auto v = DotEnvValue(dotenv, name)) return v;
      if (auto it = env.find(name); it != env.end()) return it->second;
      if (const char* e = std::getenv(name.c_str())) return std::string(e);
      return std::nullopt;
    };
  }

  // The service's image in text, interpolated.
  Result<std::string> ResolvedImage(const WorkloadRef& w, const std::string& text) {
    SU_ASSIGN_OR_RETURN(std::string raw, GetServiceImage(text, ServiceOf(w)));
    if (!HasInterpolation(raw)) return raw;
    Result<std::string> r = InterpolateCompose(raw, Lookup(w));
    if (!r.ok()) return r.status().WithContext("service \"" + ServiceOf(w) + "\": image");
    return r;
  }

  // text with the service's image changed so that it resolves to image; an interpolated value
  // keeps its variables (compose_interp.h) or the edit is refused.
  Result<std::string> EditedText(const WorkloadRef& w, const std::string& text, const std::string& image) {
    SU_ASSIGN_OR_RETURN(std::string raw, GetServiceImage(text, ServiceOf(w)));
    if (!HasInterpolation(raw)) return SetServiceImage(text, ServiceOf(w), image);
    if (!IsValidImageReference(image)) {
      return Status::Invalid("service \"" + ServiceOf(w) + "\": \"" + image + "\" is not a valid image reference");
    }
    Result<InterpolatedEdit> e = EditInterpolated(raw, image, Lookup(w));
    if (!e.ok()) return e.status().WithContext("service \"" + ServiceOf(w) + "\"");
    return SetServiceImageValue(text, ServiceOf(w), e->written);
  }

  ProcessSpec Spec(std::vector<std::string> argv) {
    ProcessSpec ps;
    ps.argv = std::move(argv);
    ps.env = config_.env;
    ps.timeout = config_.command_timeout;
    return ps;
  }

  Result<ProcessResult> Podman(std::vector<std::string> args) {
    args.insert(args.begin(), config_.podman);
    return runner_->Run(Spec(std::move(args)));
  }

  // The new image must be present before the old container goes away.
  Status EnsureImage(const std::string& image) {
    SU_ASSIGN_OR_RETURN(ProcessResult ex, Podman({"image", "exists", image}));
    if (ex.exit_code == 0) return Status::Ok();
    if (ex.exit_code != 1) return Status::Error(Code::kUnavailable, "podman image exists " + image + ": " + Scrub(ex.Tail(5)));
    if (config_.pull == "never") {
      return Status::Error(Code::kNotFound, "image " + image + " is not present (pull policy never); the running container was left alone");
    }
    SU_ASSIGN_OR_RETURN(ProcessResult pull, Podman({"pull", image}));
    if (!pull.Succeeded()) {
      return Status::Error(Code::kNotFound, "image " + image + " is not present and could not be pulled; the running container was left alone: " +
                                                Scrub(pull.Tail(5)));
    }
    return Status::Ok();
  }

  Result<WorkloadStatus> Inspect(const std::string& name) {
    SU_ASSIGN_OR_RETURN(ProcessResult r, Podman({"inspect", "--type", "container", name}));
    if (!r.Succeeded()) {
      if (r.err.find("no such") != std::string::npos) return WorkloadStatus{};
      return Status::Error(Code::kUnavailable, "podman inspect " + name + ": " + Scrub(r.Tail(5)));
    }
    bool has_hc = false;
    SU_ASSIGN_OR_RETURN(WorkloadStatus st, ParseInspect(r.out, &has_hc));
    if (!has_hc || !st.running) return st;
    // No systemd timer runs health checks here (see podman.h): run one, then read the status.
    SU_ASSIGN_OR_RETURN(ProcessResult hc, Podman({"healthcheck", "run", name}));
    if (hc.exit_code != 0 && hc.exit_code != 1) {
      LogWarn("podman_healthcheck_failed", {{"name", name}, {"error", hc.Tail(3)}});
      return st;
    }
    SU_ASSIGN_OR_RETURN(ProcessResult again, Podman({"inspect", "--type", "container", name}));
    if (!again.Succeeded()) return st;
    return ParseInspect(again.out, &has_hc);
  }

  ProcessRunner* runner_;
  PodmanConfig config_;
  FileSystem* fs_;
};

std::string ProjectName(const std::string& compose_file) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(compose_file), ec);
  if (ec) p = std::filesystem::absolute(compose_file);
  std::string base = p.parent_path().filename().string();
  std::string out;
  for (char c : base) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_') out += l;
  }
  return out;
}

std::string Str(const YAML::Node& n) { return n && n.IsScalar() ? n.as<std::string>() : ""; }

}  // namespace

Result<std::string> ComposeContainerName(FileSystem* fs, const WorkloadRef& w) {
  SU_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(w.compose_file));
  std::string service = ServiceOf(w);
  try {
    const YAML::Node root = YAML::Load(text);
    const YAML::Node services = root["services"];
    if (!services || !services.IsMap()) {
      return Status::Error(Code::kNotFound, w.compose_file + ": no services mapping");
    }
    const YAML::Node svc = services[service];
    if (!svc || !svc.IsMap()) {
      return Status::Error(Code::kNotFound, w.compose_file + ": service \"" + service + "\" not found");
    }
    std::string name = Str(svc["container_name"]);
    if (!name.empty()) return name;
  } catch (const YAML::Exception& e) {
    return Status::Invalid(w.compose_file + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  std::string project = ProjectName(w.compose_file);
  if (project.empty()) return Status::Invalid(w.compose_file + ": folder name gives an empty compose project name");
  return project + "_" + service + "_1";
}

Result<WorkloadStatus> ParseInspect(const std::string& json, bool* has_healthcheck) {
  try {
    YAML::Node root = YAML::Load(json);
    if (!root.IsSequence() || root.size() == 0) return WorkloadStatus{};
    const YAML::Node c = root[0];
    WorkloadStatus st;
    st.exists = true;
    st.image = Str(c["ImageName"]);
    const YAML::Node s = c["State"];
    st.state = Str(s["Status"]);
    st.running = s["Running"] && s["Running"].as<bool>(false);
    st.exit_code = s["ExitCode"] ? s["ExitCode"].as<int>(0) : 0;
    st.started_at = Str(s["StartedAt"]);
    st.restart_count = c["RestartCount"] ? c["RestartCount"].as<int>(0) : 0;
    // Podman 4.3 writes State.Health; older versions State.Healthcheck.
    YAML::Node health = s["Health"] ? s["Health"] : s["Healthcheck"];
    if (health && health.IsMap()) st.health = Str(health["Status"]);
    const YAML::Node config = c["Config"];
    bool configured = config && config.IsMap() && config["Healthcheck"] && config["Healthcheck"].IsMap();
    if (has_healthcheck) *has_healthcheck = configured || !st.health.empty();
    return st;
  } catch (const YAML::Exception& e) {
    return Status::Error(Code::kUnavailable, "cannot parse podman inspect output: " + e.msg);
  }
}

std::unique_ptr<WorkloadRuntime> NewComposeWorkloadRuntime(ProcessRunner* runner, PodmanConfig config) {
  return std::make_unique<ComposeWorkloadRuntime>(runner, std::move(config));
}

}  // namespace su
