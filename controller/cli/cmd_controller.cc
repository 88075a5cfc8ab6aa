// `controller`: reconciles SchemaUpgrades with a worker pool until SIGTERM/SIGINT, then exits 0
// after the steps in flight finish or abandon (the reconciler polls the stop flag between steps
// and statements). Two sources of desired state:
//   --manifests DIR  a folder of manifests (inotify + periodic resync); status in --state-dir files
//   --kubernetes     SchemaUpgrade objects through the API (informer); status in the status
//                    subresource; Kubernetes Events. dsnFrom.secretKeyRef reads the Secret in the
//                    resource's namespace; dsnFrom.env/file resolve in the controller's own
//                    environment and file system, migrations.path on its file system;
//                    Deployment / StatefulSet workloads through the Kubernetes runtime; the ory
//                    engine's migrator runs as Jobs (kube_engines.h).
// This file only parses flags and builds the mode's parts; the loop is controller_run.h.
//
// Retries: the reconciler persists attempts and next retry time in status, and returns
// requeue_after; the manager's own error backoff is therefore not used for reconcile results.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/controller_run.h"
#include "controller/cli/flags.h"
#include "controller/cli/kube_admit.h"
#include "controller/cli/kube_backup.h"
#include "controller/cli/kube_engines.h"
#include "controller/kubernetes/informer_source.h"
#include "controller/kubernetes/instrumented_api.h"
#include "controller/kubernetes/kube_event_recorder.h"
#include "controller/kubernetes/kube_secret_resolver.h"
#include "controller/kubernetes/kube_secret_writer.h"
#include "controller/kubernetes/kube_status_store.h"
#include "controller/kubernetes/lease_elector.h"
#include "controller/runtime/folder_source.h"
#include "controller/runtime/http_endpoints.h"
#include "controller/runtime/leadership.h"
#include "controller/runtime/backfill_metrics.h"
#include "controller/runtime/metrics.h"
#include "controller/runtime/signals.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/log.h"
#include "reconcilers/database/session_pool.h"
#include "reconcilers/runtimes/kubernetes/kube_folder_reader.h"
#include "reconcilers/runtimes/kubernetes/kube_workload.h"
#include "reconcilers/schemaupgrade/observation_cache.h"

namespace su {
namespace {

std::vector<FlagSpec> ControllerFlags() {
  return {{"manifests", 0, true, false, "folder of SchemaUpgrade manifests to watch (Podman mode)"},
          {"kubernetes", 0, false, false, "watch SchemaUpgrade objects through the Kubernetes API instead of --manifests"},
          {"kubeconfig", 0, true, false, "kubeconfig file (default $KUBECONFIG, in-cluster, ~/.kube/config)"},
          {"context", 0, true, false, "kubeconfig context (default: current-context)"},
          {"namespace", 0, true, true, "namespace to watch, repeatable (default: all namespaces)"},
          {"kube-api-qps", 0, true, false, "API requests per second, sustained (default 5)"},
          {"kube-api-burst", 0, true, false, "API requests in a burst (default 10)"},
          {"leader-elect", 0, false, false, "elect one active replica with a coordination.k8s.io Lease (--kubernetes)"},
          {"leader-election-namespace", 0, true, false, "the Lease's namespace (default $POD_NAMESPACE)"},
          {"leader-election-id", 0, true, false, "the Lease's name (default schema-upgrade-operator)"},
          {"leader-election-lease-duration", 0, true, false, "how long standbys wait before taking an unrenewed lease (default 15s)"},
          {"leader-election-renew-deadline", 0, true, false, "how long the leader retries renewing before it gives up (default 10s)"},
          {"leader-election-retry-period", 0, true, false, "pause between lease attempts (default 2s)"},
          {"migration-job-ttl", 0, true, false,
           "ttlSecondsAfterFinished of migration Jobs (--kubernetes): how long a failed Job and its logs stay (default 1h)"},
          {"migration-job-deadline", 0, true, false,
           "activeDeadlineSeconds of migration Jobs (--kubernetes): a migrator running longer fails (default 1h)"},
          {"controller-image", 0, true, false,
           "this controller's own image (--kubernetes), run by the Jobs that read migrations.source image "
           "and by the backup and restore Jobs of policy.backup (default $SU_CONTROLLER_IMAGE, else the "
           "image of this pod's container when $POD_NAME is set)"},
          {"compose", 0, true, false, "compose file for ComposeService workloads that name none"},
          {"state-dir", 0, true, false, "status (Podman mode) and backups (default $SU_STATE_DIR or ./.state)"},
          {"workers", 0, true, false, "resources reconciled at once (default 2)"},
          {"resync", 0, true, false, "full re-read and re-check period (default 5m)"},
          {"max-connections-per-database", 0, true, false,
           "PostgreSQL sessions kept per database (DSN) for reconcile passes (default 2); "
           "the blocked-session watch of a running migration opens one more"},
          {"connection-idle-timeout", 0, true, false,
           "close a pooled PostgreSQL session unused for this long (default 10m)"},
          {"max-idle-connections", 0, true, false,
           "idle pooled PostgreSQL sessions kept over all databases (default 32)"},
          {"full-observe-every", 0, true, false,
           "re-read a resource's migration history and files in full at least this often; between, a pass "
           "over a resource at its target that finds nothing changed costs one round trip (default 10m; 0: "
           "every pass reads in full)"},
          {"metrics-addr", 0, true, false, "serve /metrics, /healthz, /readyz on HOST:PORT (default: off)"},
          {"metrics-per-resource", 0, false, false,
           "also export phase{resource,phase}, one series per resource (default: off; resources{phase} "
           "counts them)"},
          {"health-addr", 0, true, false, "serve /healthz and /readyz on another HOST:PORT (default: off)"},
          {"help", 'h', false, false, "show this help"}};
}

// --controller-image, else $SU_CONTROLLER_IMAGE, else the image of this pod's schema-upgrade
// container ($POD_NAME / $POD_NAMESPACE from the downward API; the first container when none is
// named so). "" when none is known: source image then says which flag to set.
std::string ControllerImage(kube::KubeApi* api, const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* e = std::getenv("SU_CONTROLLER_IMAGE"); e && *e) return e;
  const char* pod = std::getenv("POD_NAME");
  const char* ns = std::getenv("POD_NAMESPACE");
  if (!pod || !*pod || !ns || !*ns) return "";
  std::string image = OwnPodImage(api, ns, pod);
  if (image.empty()) {
    LogWarn("controller.image_unknown", {{"pod", std::string(ns) + "/" + pod},
                                         {"hint", "set --controller-image for migrations.source image"}});
  }
  return image;
}

Result<double> ParsePositive(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(v > 0) || v > 100000) {
    return Status::Invalid("--" + flag + " must be a positive number, not \"" + value + "\"");
  }
  return v;
}

}  // namespace

int CmdController(const Args& args) {
  const std::vector<FlagSpec> specs = ControllerFlags();
  auto flags = Flags::Parse("controller", args, specs);
  if (!flags.ok()) return ReportError("controller", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade controller --manifests DIR [flags]\n"
                "       schema-upgrade controller --kubernetes [--kubeconfig FILE] [--namespace NS]... [flags]\n\n%s",
                FlagsHelp(specs).c_str());
    return 0;
  }
  // A long-running process with a few threads: two malloc arenas instead of one per thread (glibc
  // makes up to 8 per core; each keeps its own free memory), unless MALLOC_ARENA_MAX says otherwise;
  // and cpprestsdk's I/O pool at 4 threads, not 40 (every blocking wait is on our own threads).
  // Together about 3 MB of RSS with 1000 SchemaUpgrades watched (bench/README.md).
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  SizeHttpThreadPool(4);
  const bool kube_mode = flags->Has("kubernetes");
  std::string dir = flags->Get("manifests");
  if (kube_mode && !dir.empty()) {
    return ReportError("controller", Status::Invalid("--manifests and --kubernetes are mutually exclusive: choose one source"));
  }
  if (!kube_mode) {
    for (const char* f : {"kubeconfig", "context", "namespace", "kube-api-qps", "kube-api-burst", "leader-elect",
                          "migration-job-ttl", "migration-job-deadline", "controller-image"}) {
      if (flags->Has(f)) {
        return ReportError("controller", Status::Invalid(std::string("--") + f + " needs --kubernetes"));
      }
    }
    if (dir.empty()) return ReportError("controller", Status::Invalid("--manifests DIR or --kubernetes is required"));
    if (!LocalFileSystem()->IsDir(dir)) return ReportError("controller", Status::Invalid("--manifests " + dir + " is not a folder"));
  } else if (flags->Has("compose")) {
    return ReportError("controller", Status::Invalid("--compose is for the Podman mode (--manifests), not --kubernetes"));
  }
  const bool leader_elect = flags->Has("leader-elect");
  if (!leader_elect) {
    for (const char* f : {"leader-election-namespace", "leader-election-id", "leader-election-lease-duration",
                          "leader-election-renew-deadline", "leader-election-retry-period"}) {
      if (flags->Has(f)) return ReportError("controller", Status::Invalid(std::string("--") + f + " needs --leader-elect"));
    }
  }
  std::optional<LeaseOptions> lease_options;
  if (leader_elect) {
    auto lo = LeaseOptionsFromFlags({flags->Get("leader-election-namespace"), flags->Get("leader-election-id"),
                                     flags->Get("leader-election-lease-duration"),
                                     flags->Get("leader-election-renew-deadline"),
                                     flags->Get("leader-election-retry-period")});
    if (!lo.ok()) return ReportError("controller", lo.status());
    lease_options = *lo;
  }
  int workers = std::atoi(flags->Get("workers", "2").c_str());
  if (workers < 1 || workers > 64) return ReportError("controller", Status::Invalid("--workers must be 1..64"));
  auto resync = ParseDuration(flags->Get("resync", "5m"));
  if (!resync.ok()) return ReportError("controller", resync.status().WithContext("--resync"));
  auto job_ttl = ParseDuration(flags->Get("migration-job-ttl", "1h"));
  if (!job_ttl.ok()) return ReportError("controller", job_ttl.status().WithContext("--migration-job-ttl"));
  auto job_deadline = ParseDuration(flags->Get("migration-job-deadline", "1h"));
  if (!job_deadline.ok()) return ReportError("controller", job_deadline.status().WithContext("--migration-job-deadline"));
  if (job_ttl->count() < 0 || job_deadline->count() < 1000) {
    return ReportError("controller", Status::Invalid("--migration-job-deadline must be at least 1s and "
                                                     "--migration-job-ttl not negative"));
  }
  double qps = 5, burst = 10;
  if (flags->Has("kube-api-qps")) {
    auto v = ParsePositive("kube-api-qps", flags->Get("kube-api-qps"));
    if (!v.ok()) return ReportError("controller", v.status());
    qps = *v;
  }
  if (flags->Has("kube-api-burst")) {
    auto v = ParsePositive("kube-api-burst", flags->Get("kube-api-burst"));
    if (!v.ok()) return ReportError("controller", v.status());
    burst = *v;
  }

  // The API client first: a bad kubeconfig is bad input (exit 2) before anything starts.
  std::unique_ptr<kube::KubeApi> rest;
  std::string server;
  Metrics metrics;
  if (kube_mode) {
    auto cfg = kube::LoadConfig({flags->Get("kubeconfig"), flags->Get("context")});
    if (!cfg.ok()) return ReportError("controller", cfg.status());
    cfg->qps = qps;
    cfg->burst = static_cast<int>(burst);
    server = cfg->server;
    auto client = kube::NewRestClient(*cfg);
    if (!client.ok()) return ReportError("controller", client.status());
    rest = std::move(client).value();
    LogInfo("kube.config", {{"source", cfg->source}, {"server", cfg->server}});
  }

  int max_conns = std::atoi(flags->Get("max-connections-per-database", "2").c_str());
  if (max_conns < 1 || max_conns > 1000) {
    return ReportError("controller", Status::Invalid("--max-connections-per-database must be 1..1000"));
  }
  int max_idle = std::atoi(flags->Get("max-idle-connections", "32").c_str());
  if (max_idle < 0 || max_idle > 10000) {
    return ReportError("controller", Status::Invalid("--max-idle-connections must be 0..10000"));
  }
  auto idle_timeout = ParseDuration(flags->Get("connection-idle-timeout", "10m"));
  if (!idle_timeout.ok()) return ReportError("controller", idle_timeout.status().WithContext("--connection-idle-timeout"));
  if (idle_timeout->count() <= 0) {
    return ReportError("controller", Status::Invalid("--connection-idle-timeout must be longer than 0"));
  }

  auto full_observe = ParseDuration(flags->Get("full-observe-every", "10m"));
  if (!full_observe.ok()) return ReportError("controller", full_observe.status().WithContext("--full-observe-every"));
  if (full_observe->count() < 0) return ReportError("controller", Status::Invalid("--full-observe-every must not be negative"));

  auto signal = ShutdownSignal::Install();
  if (!signal.ok()) return ReportError("controller", signal.status());
  ShutdownSignal* stop = signal->get();

  auto env = MakeCliEnv({flags->Get("state-dir"), flags->Get("compose"), false});
  // Passes reuse sessions per database (see session_pool.h); the restore's extra sessions do not.
  SessionPoolOptions pool_options;
  pool_options.open = env->deps.connect;
  pool_options.max_per_database = max_conns;
  pool_options.idle_timeout = *idle_timeout;
  pool_options.max_idle_total = max_idle;
  SessionPool pool(pool_options);
  env->deps.connect_aux = env->deps.connect;
  env->deps.connect = [&pool](const std::string& dsn, const std::string& app) { return pool.Acquire(dsn, app); };
  metrics.Describe("db_sessions", "PostgreSQL sessions held by the controller's pool, by state (idle, in_use).");
  metrics.SetGaugeFunc("db_sessions", {{"state", "idle"}}, [&pool] { return pool.Stats().idle; });
  metrics.SetGaugeFunc("db_sessions", {{"state", "in_use"}}, [&pool] { return pool.Stats().in_use; });
  // A pass at target that finds nothing changed since the last one costs one round trip.
  std::optional<ObservationCache> observations;
  if (full_observe->count() > 0) {
    observations.emplace(*full_observe);
    env->deps.observations = &*observations;
    ObservationCache* oc = &*observations;
    metrics.Describe("observation_cache_hits", "Passes that re-used the last observation (nothing changed) since start.");
    metrics.Describe("observation_cache_misses", "Passes that read the history and folder in full since start.");
    metrics.SetGaugeFunc("observation_cache_hits", {}, [oc] { return static_cast<double>(oc->hits()); });
    metrics.SetGaugeFunc("observation_cache_misses", {}, [oc] { return static_cast<double>(oc->misses()); });
  }
  metrics.Describe("db_round_trips", "Round trips to PostgreSQL made by this process since start.");
  metrics.SetGaugeFunc("db_round_trips", {}, [] { return static_cast<double>(PostgresRoundTrips()); });
  metrics.Describe("blocked_sessions", "Sessions blocked behind a running migration, by resource.");
  metrics.Describe("blocked_session_longest_wait_seconds", "Longest wait of a session blocked behind a migration.");
  env->deps.on_blocked = [&metrics](const std::string& key, const std::vector<BlockedSession>& blocked) {
    long long longest = 0;
    for (const auto& b : blocked) longest = std::max(longest, b.waiting_ms);
    // Series only while something is blocked (bounded by the migrations running at once).
    if (blocked.empty()) {
      metrics.RemoveSeries("blocked_sessions", {{"resource", key}});
      metrics.RemoveSeries("blocked_session_longest_wait_seconds", {{"resource", key}});
      return;
    }
    metrics.SetGauge("blocked_sessions", {{"resource", key}}, static_cast<double>(blocked.size()));
    metrics.SetGauge("blocked_session_longest_wait_seconds", {{"resource", key}}, longest / 1000.0);
  };

  DescribeBackfillMetrics(&metrics);
  env->deps.on_backfill = [&metrics](const std::string& key, const BackfillProgress* p) {
    if (!p) return ShowBackfill(&metrics, key, nullptr);
    const BackfillGauges g{p->rows_done, p->rows_total, static_cast<double>(p->rows_per_second)};
    ShowBackfill(&metrics, key, &g);
  };

  ControllerParts parts;
  parts.env = env.get();
  parts.metrics = &metrics;
  parts.stop = stop;
  parts.workers = workers;
  parts.per_resource_metrics = flags->Has("metrics-per-resource");
  LogEventRecorder log_events;
  std::unique_ptr<ResourceSource> source;
  std::unique_ptr<kube::InstrumentedKubeApi> api;
  std::unique_ptr<kube::KubeStatusStore> kube_store;
  std::unique_ptr<kube::KubeEventRecorder> kube_events;
  std::unique_ptr<SecretResolver> secrets;
  std::unique_ptr<SecretWriter> secret_writer;
  std::unique_ptr<WorkloadRuntime> kube_workloads;
  // Without --leader-elect this replica always leads (the Podman mode, or one Kubernetes replica).
  std::unique_ptr<LeaderElector> elector;
  // Events go to the log in both modes, and to the API in Kubernetes mode.
  struct TeeRecorder : EventRecorder {
    std::vector<EventRecorder*> to;
    void Record(const std::string& k, const std::string& t, const std::string& r, const std::string& m) override {
      for (auto* e : to) e->Record(k, t, r, m);
    }
  } events;
  events.to.push_back(&log_events);

  if (kube_mode) {
    metrics.Describe("kube_api_requests_total", "Kubernetes API requests by verb and HTTP code (transport: no answer).");
    metrics.Describe("kube_api_request_duration_seconds", "Kubernetes API request latency by verb (watches: stream length).");
    api = std::make_unique<kube::InstrumentedKubeApi>(
        rest.get(), [&metrics](const std::string& verb, const std::string& code, double seconds) {
          metrics.IncCounter("kube_api_requests_total", {{"verb", verb}, {"code", code}});
          metrics.Observe("kube_api_request_duration_seconds", {{"verb", verb}}, seconds);
        });
    char cwd[4096];
    std::string base_dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    auto ks = std::make_unique<kube::KubeResourceSource>(
        kube::KubeResourceSourceOptions{api.get(), flags->GetAll("namespace"), *resync, base_dir, server});
    kube::KubeResourceSource* src = ks.get();
    metrics.Describe("kube_informer_lists", "Lists of SchemaUpgrades (initial and re-lists) since start.");
    metrics.Describe("kube_informer_watches", "Watches of SchemaUpgrades started since start.");
    metrics.Describe("kube_informer_relists_gone", "Re-lists forced by 410 Gone since start.");
    metrics.Describe("kube_informer_errors", "Failed lists and watches since start (each followed by a backoff).");
    metrics.Describe("kube_informer_synced", "1 once the SchemaUpgrade cache has synced.");
    metrics.Describe("kube_informer_objects", "SchemaUpgrades in the cache.");
    metrics.SetGaugeFunc("kube_informer_lists", {}, [src] { return src->stats().lists; });
    metrics.SetGaugeFunc("kube_informer_watches", {}, [src] { return src->stats().watches; });
    metrics.SetGaugeFunc("kube_informer_relists_gone", {}, [src] { return src->stats().gone; });
    metrics.SetGaugeFunc("kube_informer_errors", {}, [src] { return src->stats().errors; });
    metrics.SetGaugeFunc("kube_informer_synced", {}, [src] { return src->HasSynced() ? 1 : 0; });
    metrics.SetGaugeFunc("kube_informer_objects", {}, [src] { return static_cast<double>(src->Keys().size()); });

    kube::KubeStatusStoreOptions so;
    so.api = api.get();
    so.cached = [src](const std::string& key) { return src->Object(key); };
    so.keys = [src] { return src->Keys(); };
    kube_store = std::make_unique<kube::KubeStatusStore>(so);
    env->deps.store = kube_store.get();
    kube::KubeStatusStore* ks_ptr = kube_store.get();
    metrics.Describe("kube_status_patches", "Status subresource patches sent since start.");
    metrics.Describe("kube_status_unchanged", "Status saves that sent nothing (only observedAt/updatedAt changed) since start.");
    metrics.SetGaugeFunc("kube_status_patches", {}, [ks_ptr] { return ks_ptr->patches(); });
    metrics.SetGaugeFunc("kube_status_unchanged", {}, [ks_ptr] { return ks_ptr->unchanged(); });

    kube::KubeEventRecorderOptions eo;
    eo.api = api.get();
    eo.lookup = [src](const std::string& key) { return src->Ref(key); };
    if (const char* pod = std::getenv("POD_NAME"); pod && *pod) eo.reporting_instance = pod;
    kube_events = std::make_unique<kube::KubeEventRecorder>(eo);
    kube::KubeEventRecorder* ke = kube_events.get();
    metrics.Describe("kube_events_created", "Kubernetes Events created since start.");
    metrics.Describe("kube_events_dropped", "Events dropped (queue full, rate limited, object gone) since start.");
    metrics.SetGaugeFunc("kube_events_created", {}, [ke] { return ke->stats().created; });
    metrics.SetGaugeFunc("kube_events_dropped", {}, [ke] { return ke->stats().dropped; });
    events.to.push_back(ke);

    // dsnFrom.secretKeyRef from the Secret in the resource's namespace; env and file locally.
    secrets = kube::NewKubeSecretResolver(api.get(), {LocalFileSystem(), nullptr, ""});
    env->deps.secrets = secrets.get();
    // The ory rehearsal's copy DSN, in a Secret of the resource's own for the copy's migrator Job.
    secret_writer = kube::NewKubeSecretWriter(api.get());
    env->deps.secret_writer = secret_writer.get();
    // Deployments and StatefulSets: the image patched in the pod template, the rollout watched as
    // `kubectl rollout status` does (reconcilers/runtimes/kubernetes/kube_workload.h).
    kube_workloads = NewKubeWorkloadRuntime({api.get(), env->deps.clock});
    env->deps.workloads = kube_workloads.get();
    env->deps.verify = [](WorkloadRuntime* rt, const WorkloadRef& w, const std::string& image,
                          std::chrono::milliseconds settle, Clock* clock) {
      return VerifyRollout(rt, w, image, settle, clock);
    };
    parts.admit = AdmitForKubernetes;
    KubeEngineSettings ks_engines;
    ks_engines.api = api.get();
    ks_engines.fs = LocalFileSystem();
    ks_engines.job_ttl = std::chrono::duration_cast<std::chrono::seconds>(*job_ttl);
    ks_engines.job_deadline = std::chrono::duration_cast<std::chrono::seconds>(*job_deadline);
    ks_engines.controller_image = ControllerImage(api.get(), flags->Get("controller-image"));
    env->deps.make_engine = KubeEngineFactory(ks_engines);
    // policy.backup: pg_dump / restore as Jobs of this image writing to the resource's claim.
    KubeBackupSettings kb;
    kb.api = api.get();
    kb.clock = env->deps.clock;
    kb.image = ks_engines.controller_image;
    kb.job_ttl = ks_engines.job_ttl;
    kb.job_deadline = ks_engines.job_deadline;
    ReconcilerDeps* deps = &env->deps;  // its cancelled is set when the loop starts
    kb.cancelled = [deps] { return deps->cancelled && deps->cancelled(); };
    env->deps.make_backup = KubeBackupFactory(kb);
    kube::KubeStatusStore* store = kube_store.get();
    parts.on_removed = [store](const std::string& key) { store->Forget(key); };
    source = std::move(ks);
    if (lease_options) {
      auto le = LeaseElector::Create(api.get(), *lease_options);
      if (!le.ok()) return ReportError("controller", le.status());
      elector = std::move(le).value();
      LogInfo("leader.election", {{"lease", lease_options->ns + "/" + lease_options->name},
                                  {"identity", lease_options->identity},
                                  {"lease_duration", FormatDuration(lease_options->lease_duration)},
                                  {"renew_deadline", FormatDuration(lease_options->renew_deadline)},
                                  {"retry_period", FormatDuration(lease_options->retry_period)}});
    }
  } else {
    ManifestWatcherOptions wopt;
    wopt.dir = dir;
    wopt.resync_period = *resync;
    source = std::make_unique<FolderSource>(wopt);
  }
  if (!elector) {
    std::string id = "local";
    char host[256] = {};
    if (const char* pod = std::getenv("POD_NAME"); pod && *pod) {
      id = pod;
    } else if (gethostname(host, sizeof host - 1) == 0 && host[0]) {
      id = host;
    }
    elector = std::make_unique<AlwaysLeader>(id);
  }
  parts.source = source.get();
  parts.events = &events;
  parts.elector = elector.get();
  LeaderElector* leader = elector.get();

  std::vector<std::unique_ptr<HttpEndpoints>> servers;
  ResourceSource* src = source.get();
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
    // Ready: the source's cache has synced (the informer listed everything) and this replica leads
    // or stands by; a standby is ready (a rollout waits for Ready pods, see leadership.h), a replica
    // that lost the lease is not (it is exiting).
    h.ready = [src, stop, leader] { return src->HasSynced() && LeadershipReady(*leader) && !stop->StopRequested(); };
    auto server = HttpEndpoints::Start(h);
    if (!server.ok()) return ReportError("controller", server.status().WithContext("--" + flag));
    LogInfo("http.listening", {{"url", (*server)->Url()}, {"metrics", with_metrics ? "yes" : "no"}});
    servers.push_back(std::move(server).value());
  }
  LogInfo("controller.starting", {{"source", source->Describe()}, {"workers", std::to_string(workers)},
                                  {"state_dir", env->state_dir}, {"resync", FormatDuration(*resync)}});
  int code = RunController(parts);
  if (kube_events) kube_events->Stop();  // flushes queued events (bounded)
  for (auto& s : servers) s->Stop();
  LogInfo("controller.stopped", {{"exit_code", std::to_string(code)}});
  return code;
}

}  // namespace su
