// `controller`: watches a folder of SchemaUpgrade manifests (inotify + periodic resync) and
// reconciles each resource with a worker pool until SIGTERM/SIGINT, then exits 0 after the steps
// in flight finish or abandon (the reconciler polls the stop flag between steps and statements).
//
// Retries: the reconciler persists attempts and next retry time in status, and returns
// requeue_after; the manager's own error backoff is therefore not used for reconcile results
// (it would double the wait and forget it across restarts).
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "controller/runtime/http_endpoints.h"
#include "controller/runtime/manager.h"
#include "controller/runtime/manifest_watcher.h"
#include "controller/runtime/metrics.h"
#include "controller/runtime/signals.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/manifest/manifest.h"

namespace su {
namespace {

// The desired state as last read from the folder: resources by key, and which file holds which.
class ResourceIndex {
 public:
  // Re-reads path. Returns the keys now defined by it and the keys it no longer defines. A file
  // that fails to parse keeps its previous resources (a typo must not read as "delete everything").
  Status Reload(const std::string& path, std::vector<std::string>* present, std::vector<std::string>* gone) {
    FileSystem* fs = LocalFileSystem();
    std::lock_guard<std::mutex> l(mu_);
    std::set<std::string> before = files_[path];
    if (!fs->Exists(path)) {
      for (const auto& k : before) {
        resources_.erase(k);
        gone->push_back(k);
      }
      files_.erase(path);
      return Status::Ok();
    }
    auto loaded = LoadManifestFile(fs, path);
    if (!loaded.ok()) return loaded.status();
    std::set<std::string> now;
    for (auto& su : *loaded) {
      std::string key = su.Key();
      auto owner = owner_.find(key);
      if (owner != owner_.end() && owner->second != path && files_[owner->second].count(key)) {
        return Status::Invalid(path + ": SchemaUpgrade " + key + " is already defined in " + owner->second);
      }
      owner_[key] = path;
      now.insert(key);
      resources_[key] = std::move(su);
      present->push_back(key);
    }
    for (const auto& k : before) {
      if (!now.count(k)) {
        resources_.erase(k);
        owner_.erase(k);
        gone->push_back(k);
      }
    }
    files_[path] = now;
    return Status::Ok();
  }

  std::vector<std::string> Files() {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<std::string> out;
    for (const auto& [f, _] : files_) out.push_back(f);
    return out;
  }

  std::optional<SchemaUpgrade> Get(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = resources_.find(key);
    if (it == resources_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, SchemaUpgrade> resources_;
  std::map<std::string, std::set<std::string>> files_;
  std::map<std::string, std::string> owner_;
};

}  // namespace

int CmdController(const Args& args) {
  std::vector<FlagSpec> specs = {{"manifests", 0, true, false, "folder of SchemaUpgrade manifests to watch"},
                                 {"compose", 0, true, false, "compose file for ComposeService workloads that name none"},
                                 {"state-dir", 0, true, false, "status and backups (default $SU_STATE_DIR or ./.state)"},
                                 {"workers", 0, true, false, "resources reconciled at once (default 2)"},
                                 {"resync", 0, true, false, "full re-read and re-check period (default 5m)"},
                                 {"metrics-addr", 0, true, false, "serve /metrics, /healthz, /readyz on HOST:PORT (default: off)"},
                                 {"health-addr", 0, true, false, "serve /healthz and /readyz on another HOST:PORT (default: off)"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("controller", args, specs);
  if (!flags.ok()) return ReportError("controller", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade controller --manifests DIR [flags]\n\n%s", FlagsHelp(specs).c_str());
    return 0;
  }
  std::string dir = flags->Get("manifests");
  if (dir.empty()) return ReportError("controller", Status::Invalid("--manifests DIR is required"));
  if (!LocalFileSystem()->IsDir(dir)) return ReportError("controller", Status::Invalid("--manifests " + dir + " is not a folder"));
  int workers = std::atoi(flags->Get("workers", "2").c_str());
  if (workers < 1 || workers > 64) return ReportError("controller", Status::Invalid("--workers must be 1..64"));
  auto resync = ParseDuration(flags->Get("resync", "5m"));
  if (!resync.ok()) return ReportError("controller", resync.status().WithContext("--resync"));

  auto signal = ShutdownSignal::Install();
  if (!signal.ok()) return ReportError("controller", signal.status());
  ShutdownSignal* stop = signal->get();

  auto env = MakeCliEnv({flags->Get("state-dir"), flags->Get("compose"), false});
  env->deps.cancelled = [stop] { return stop->StopRequested(); };
  Metrics metrics;
  metrics.Describe("blocked_sessions", "Sessions blocked behind a running migration, by resource.");
  metrics.Describe("blocked_session_longest_wait_seconds", "Longest wait of a session blocked behind a migration.");
  metrics.Describe("phase", "1 for the current phase of each resource.");
  metrics.Describe("reconcile_results_total", "Reconcile passes by how they ended: succeeded, waiting, retrying, failed.");
  env->deps.on_blocked = [&metrics](const std::string& key, const std::vector<BlockedSession>& blocked) {
    long long longest = 0;
    for (const auto& b : blocked) longest = std::max(longest, b.waiting_ms);
    metrics.SetGauge("blocked_sessions", {{"resource", key}}, static_cast<double>(blocked.size()));
    metrics.SetGauge("blocked_session_longest_wait_seconds", {{"resource", key}}, longest / 1000.0);
  };
  std::vector<std::unique_ptr<HttpEndpoints>> servers;
  std::atomic<bool> ready{false};
  for (const auto& [flag, with_metrics] : {std::pair<std::string, bool>{"metrics-addr", true}, {"health-addr", false}}) {
    if (!flags->Has(flag)) continue;
    std::string addr = flags->Get(flag);
    auto colon = addr.rfind(':');
    int port = colon == std::string::npos ? 0 : std::atoi(addr.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return ReportError("controller", Status::Invalid("--" + flag + " must be HOST:PORT, not \"" + addr + "\""));
    HttpEndpointsOptions h;
    h.host = colon == 0 ? "0.0.0.0" : addr.substr(0, colon);
    h.port = port;
    h.metrics = with_metrics ? &metrics : nullptr;
    h.healthy = [stop] { return !stop->StopRequested(); };
    h.ready = [&ready] { return ready.load(); };
    auto server = HttpEndpoints::Start(h);
    if (!server.ok()) return ReportError("controller", server.status().WithContext("--" + flag));
    LogInfo("http.listening", {{"url", (*server)->Url()}, {"metrics", with_metrics ? "yes" : "no"}});
    servers.push_back(std::move(server).value());
  }
  Reconciler reconciler(env->deps);
  ResourceIndex index;

  ManagerOptions mopt;
  mopt.workers = workers;
  mopt.metrics = &metrics;
  Manager manager(
      [&](const std::string& key) -> Result<ReconcileResult> {
        auto su = index.Get(key);
        if (!su) return ReconcileResult{};  // its manifest is gone; status stays as the record
        ApplyCliDefaults(*env, &*su);
        auto out = reconciler.Reconcile(*su);
        for (Phase p : {Phase::kPending, Phase::kWaiting, Phase::kPlanning, Phase::kBackingUp, Phase::kMigrating,
                        Phase::kBumping, Phase::kVerifying, Phase::kSucceeded, Phase::kFailed}) {
          metrics.SetGauge("phase", {{"resource", key}, {"phase", PhaseName(p)}}, p == out.status.phase ? 1 : 0);
        }
        // The manager's reconciles_total counts callback outcomes, and this callback never fails
        // (the reconciler owns retries); this counter says how the pass itself ended.
        std::string result = out.result.ok() ? "succeeded"
                             : out.result.code() == Code::kGated ? "waiting"
                             : out.terminal ? "failed" : "retrying";
        metrics.IncCounter("reconcile_results_total", {{"resource", key}, {"result", result}});
        ReconcileResult r;
        r.requeue_after = out.requeue_after;
        return r;
      },
      mopt);

  auto reload = [&](const std::string& path, bool resync_only) {
    std::vector<std::string> present, gone;
    Status s = index.Reload(path, &present, &gone);
    if (!s.ok()) {
      LogError("manifest.invalid", {{"file", path}, {"error", s.ToString()}});
      return;
    }
    for (const auto& k : gone) {
      LogInfo("resource.removed", {{"resource", k}, {"file", path}});
      manager.Remove(k);
    }
    for (const auto& k : present) {
      auto su = index.Get(k);
      if (su) {
        manager.SetRetryPolicy(k, su->policy.retries.limit, su->policy.retries.initial_backoff,
                               su->policy.retries.max_backoff);
      }
      if (resync_only) {
        manager.Resync(k);
      } else {
        manager.Enqueue(k);
      }
    }
  };

  ManifestWatcherOptions wopt;
  wopt.dir = dir;
  wopt.resync_period = *resync;
  auto watcher = NewInotifyManifestWatcher(wopt);
  if (!watcher.ok()) return ReportError("controller", watcher.status());
  if (Status s = manager.Start(); !s.ok()) return ReportError("controller", s);
  ManifestWatcherCallbacks cb;
  bool first_listing = true;
  cb.on_change = [&](const std::string& path) { reload(path, false); };
  cb.on_resync = [&](const std::vector<std::string>& paths) {
    std::set<std::string> seen(paths.begin(), paths.end());
    for (const auto& p : paths) reload(p, !first_listing);
    for (const auto& f : index.Files()) {
      if (!seen.count(f)) reload(f, false);
    }
    first_listing = false;
  };
  if (Status s = (*watcher)->Start(cb); !s.ok()) return ReportError("controller", s);
  LogInfo("controller.started", {{"manifests", dir}, {"workers", std::to_string(workers)},
                                 {"state_dir", env->state_dir}, {"resync", FormatDuration(*resync)}});
  ready = true;
  stop->Wait();
  ready = false;
  LogInfo("controller.stopping", {{"signal", std::to_string(stop->Signal())}});
  (*watcher)->Stop();
  manager.Stop();
  for (auto& s : servers) s->Stop();
  LogInfo("controller.stopped", {});
  return 0;
}

}  // namespace su
