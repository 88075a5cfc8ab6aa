// CiamStack (see ciam_stack.h).
#include "tests/e2e/podman/ciam_stack.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "reconcilers/base/fs.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/cli_runner.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

std::map<std::string, std::string> PodmanEnv() {
  return {{"CONTAINERS_CONF", SourceDir() + "/tests/fixtures/podman/containers.conf"}};
}

Result<ProcessResult> Run(std::vector<std::string> argv, const std::string& cwd = "",
                          std::chrono::seconds timeout = std::chrono::seconds(120)) {
  ProcessSpec ps;
  ps.argv = std::move(argv);
  ps.env = PodmanEnv();
  ps.cwd = cwd;
  ps.timeout = timeout;
  return PosixProcessRunner()->Run(ps);
}

std::string Why(const Result<ProcessResult>& r) { return r.ok() ? r->Tail(15) : r.status().ToString(); }
bool Ok(const Result<ProcessResult>& r) { return r.ok() && r->Succeeded(); }

std::string TagOf(const std::string& image) { return image.substr(image.rfind(':') + 1); }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

CiamService StockService(const std::string& key) {
  CiamService s;
  s.key = key;
  if (key == "kratos") {
    s.old_image = "localhost/oryd/kratos:v1.1.0";
    s.new_version = "v1.2.0";
    s.old_versions = {"20240101000001000000", "20240101000002000000", "20240101000003000000",
                      "20240101000004000000"};
    s.new_versions = {"20240301000001000000", "20240301000002000000", "20240301000003000000"};
  } else if (key == "hydra") {
    s.old_image = "localhost/oryd/hydra:v2.2.0";
    s.new_version = "v2.3.0";
    s.old_versions = {"20240110000001000000", "20240110000002000000", "20240110000003000000"};
    s.new_versions = {"20240410000001000000", "20240410000002000000"};
  } else {
    s.old_image = "localhost/olympus/athena:v1.0.0";
    s.new_version = "v1.1.0";
    s.old_versions = {"0000_init_tenants_users", "0001_projects"};
    s.new_versions = {"0002_audit_events", "0003_users_last_login"};
  }
  s.new_image = s.old_image.substr(0, s.old_image.rfind(':') + 1) + s.new_version;
  for (char c : key) s.env_var += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  s.env_var += "_DSN";
  return s;
}

Result<ProcessResult> Podman(std::vector<std::string> args) {
  args.insert(args.begin(), "podman");
  return Run(std::move(args));
}

Status BuildFixtureImages() {
  static Status built = [] {
    auto r = Run({SourceDir() + "/tests/fixtures/images/build.sh"}, "", std::chrono::seconds(300));
    if (!Ok(r)) return Status::Failed("tests/fixtures/images/build.sh failed: " + Why(r));
    return Status::Ok();
  }();
  return built;
}

CiamStack::CiamStack(std::vector<CiamService> services) : services_(std::move(services)) {
  static std::atomic<int> counter{0};
  std::string id = std::to_string(getpid()) + "-" + std::to_string(++counter);
  project_ = "e2e" + std::to_string(getpid()) + "s" + std::to_string(counter.load());
  manifests_ = dir_.Path("manifests");
  state_dir_ = dir_.Path("state");
  std::filesystem::create_directories(manifests_);
  std::filesystem::create_directories(state_dir_);
  for (auto& s : services_) {
    s.container = "ciam-" + s.key + "-" + id;
    s.ns = "ciam-" + std::to_string(getpid());
    s.dsn = PgServer::Shared().CreateDatabase(s.key);
    s.db = PgServer::DbNameOf(s.dsn);
  }
  WriteCompose();
}

CiamStack::~CiamStack() {
  for (const auto& s : services_) (void)Podman({"rm", "-f", "-t", "0", "--ignore", s.container});
  (void)Podman({"network", "rm", "-f", project_ + "_default"});
  dbs_.clear();
  admin_.reset();
}

CiamService& CiamStack::service(const std::string& key) {
  for (auto& s : services_) {
    if (s.key == key) return s;
  }
  ADD_FAILURE() << "no service " << key << " in this stack";
  return services_.front();
}

std::vector<std::string> CiamStack::Resources() const {
  std::vector<std::string> out;
  for (const auto& s : services_) out.push_back(s.Resource());
  return out;
}

std::string CiamStack::ManifestPath(const std::string& key) const { return manifests_ + "/" + key + ".yaml"; }

void CiamStack::WriteCompose() {
  // A stack file the way an operator writes one: comments and quoting that the bump must keep.
  std::ostringstream y;
  y << "# Olympus CIAM stack (end-to-end test)\nservices:\n";
  for (const auto& s : services_) {
    std::string var = s.key == "athena" ? "DATABASE_URL" : "DSN";
    y << "  " << s.key << ":   # " << s.key << " service\n"
      << "    image: " << s.old_image << "   # bumped by schema-upgrade\n"
      << "    container_name: " << s.container << "\n"
      << "    restart: \"no\"\n"
      << "    environment:\n"
      << "      " << var << ": \"postgres://postgres@/" << s.db << "?host=/var/run/postgresql&port="
      << PgServer::Shared().port() << "\"\n"
      << "    volumes:\n"
      << "      - \"" << PgServer::Shared().socket_dir() << ":/var/run/postgresql\"\n\n";
  }
  compose_text_ = y.str();
  compose_file_ = dir_.Write(project_ + "/docker-compose.yml", compose_text_);
}

std::string CiamStack::ReadCompose() const {
  std::ifstream in(compose_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, std::string> CiamStack::Env() const {
  auto env = PodmanEnv();
  for (const auto& s : services_) env[s.env_var] = s.dsn;
  env["SU_STATE_DIR"] = state_dir_;
  env["SU_LOG_LEVEL"] = "info";
  return env;
}

Status CiamStack::Bootstrap() {
  // Workload-less manifests at the old versions: the databases as the running stack expects them.
  std::string dir = dir_.Path("bootstrap");
  for (const auto& s : services_) {
    std::ostringstream m;
    m << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " << s.key
      << "\n  namespace: " << s.ns << "\nspec:\n  targetVersion: " << TagOf(s.old_image) << "\n";
    if (s.key == "athena") {
      m << "  database:\n    dsnFrom:\n      env: " << s.env_var << "\n  migrations:\n    engine: drizzle\n"
        << "    path: " << SourceDir() << "/tests/fixtures/images/athena/" << TagOf(s.old_image) << "\n";
    } else {
      m << "  image: " << s.old_image << "\n  database:\n    dsnFrom:\n      env: " << s.env_var
        << "\n  migrations:\n    engine: ory\n";
    }
    dir_.Write("bootstrap/" + s.key + ".yaml", m.str());
  }
  auto env = Env();
  env["SU_LOG_LEVEL"] = "warn";
  CliResult r = RunCli({"apply", "-q", "-f", dir, "--state-dir", dir_.Path("bootstrap-state")}, env);
  if (r.exit_code != 0) {
    return Status::Failed("bootstrap apply exited " + std::to_string(r.exit_code) + ":\n" + r.out + r.err);
  }
  return Status::Ok();
}

Status CiamStack::Up() {
  SU_RETURN_IF_ERROR(BuildFixtureImages());
  SU_RETURN_IF_ERROR(Bootstrap());
  auto up = Compose({"up", "-d"});
  if (!Ok(up)) return Status::Failed("podman-compose up -d: " + Why(up));
  return WaitAllRunning(std::chrono::seconds(60));
}

Status CiamStack::WaitAllRunning(std::chrono::seconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  for (;;) {
    bool all = true;
    for (const auto& s : services_) {
      auto [state, image] = PsRow(s.container);
      if (state == "exited") {
        auto logs = Podman({"logs", s.container});
        return Status::Failed(s.container + " exited at start:\n" + Why(logs));
      }
      all = all && state == "running";
    }
    if (all) return Status::Ok();
    if (std::chrono::steady_clock::now() > until) return Status::Failed("the stack did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<ProcessResult> CiamStack::Compose(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"podman-compose", "-f", compose_file_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, std::filesystem::path(compose_file_).parent_path().string());
}

std::pair<std::string, std::string> CiamStack::PsRow(const std::string& container) {
  auto r = Podman({"inspect", "--type", "container", "--format", "{{.State.Status}}|{{.ImageName}}", container});
  if (!Ok(r)) return {"", ""};
  std::string line = Trim(r->out);
  auto bar = line.find('|');
  if (bar == std::string::npos) return {line, ""};
  return {line.substr(0, bar), line.substr(bar + 1)};
}

std::string CiamStack::WaitExited(const std::string& container, std::chrono::seconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  std::string state;
  do {
    state = PsRow(container).first;
    if (state != "running" && state != "created" && state != "configured") return state;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < until);
  return state;
}

void CiamStack::WriteManifest(const CiamService& s, const std::string& policy) {
  std::ostringstream m;
  m << "# " << s.key << " " << TagOf(s.old_image) << " -> " << s.new_version << "\n"
    << "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " << s.key
    << "\n  namespace: " << s.ns << "\nspec:\n  targetVersion: " << s.new_version << "\n"
    << "  workload:\n    kind: ComposeService\n    name: " << s.container << "\n    service: " << s.key
    << "\n    composeFile: " << compose_file_ << "\n"
    << "  database:\n    dsnFrom:\n      env: " << s.env_var << "\n";
  if (s.key == "athena") {
    m << "  migrations:\n    engine: drizzle\n    path: " << SourceDir() << "/tests/fixtures/images/athena/"
      << (s.drizzle_folder.empty() ? s.new_version : s.drizzle_folder) << "\n";
  } else {
    m << "  migrations:\n    engine: ory\n";
  }
  m << "  policy:\n" << policy;
  dir_.Write("manifests/" + s.key + ".yaml", m.str());
}

std::unique_ptr<BackgroundProcess> CiamStack::StartController() {
  auto p = std::make_unique<BackgroundProcess>();
  std::string log = dir_.Path("controller-" + std::to_string(++logs_) + ".log");
  bool ok = p->Start({CliBinary(), "controller", "--manifests", manifests_, "--state-dir", state_dir_, "--workers",
                      "3", "--resync", "30s"},
                     Env(), log);
  EXPECT_TRUE(ok) << "cannot start " << CliBinary();
  return p;
}

std::optional<ResourceStatus> CiamStack::LoadStatus(const std::string& resource) const {
  auto store = NewDirStatusStore(LocalFileSystem(), state_dir_ + "/status");
  auto r = store->Load(resource);
  if (!r.ok()) return std::nullopt;
  return *r;
}

bool CiamStack::WaitForPhases(BackgroundProcess* p, const std::vector<std::string>& resources, Phase want,
                              std::chrono::seconds bound, std::string* why) {
  auto until = std::chrono::steady_clock::now() + bound;
  for (;;) {
    std::string seen;
    bool all = true;
    for (const auto& r : resources) {
      auto st = LoadStatus(r);
      Phase ph = st ? st->phase : Phase::kPending;
      seen += r + "=" + PhaseName(ph) + (st && !st->last_error.empty() ? " (" + st->last_error + ")" : "") + " ";
      all = all && ph == want;
      if (ph == Phase::kFailed && want != Phase::kFailed) {
        *why = "a resource failed: " + seen + "\n" + p->LogTail();
        return false;
      }
    }
    if (all) return true;
    if (auto end = p->Poll()) {
      *why = "the controller " + end->Describe() + " early; last seen: " + seen + "\n" + p->LogTail();
      return false;
    }
    if (std::chrono::steady_clock::now() > until) {
      *why = "not converged within " + std::to_string(bound.count()) + " s; last seen: " + seen + "\n" + p->LogTail();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Database* CiamStack::db(const std::string& key) {
  auto& slot = dbs_[key];
  if (!slot || !slot->Healthy()) {
    auto c = ConnectPostgres(service(key).dsn, "e2e-test");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    slot = std::move(*c);
  }
  return slot.get();
}

std::vector<std::string> CiamStack::Column(const std::string& key, const std::string& sql,
                                           const std::vector<SqlValue>& params) {
  std::vector<std::string> out;
  Database* d = db(key);
  if (!d) return out;
  auto r = d->Query(sql, params);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok()) return out;
  for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
  return out;
}

std::string CiamStack::AdvisoryLocks() {
  if (!admin_ || !admin_->Healthy()) {
    auto c = ConnectPostgres(PgServer::Shared().Dsn("postgres"), "e2e-test");
    if (!c.ok()) return "error: " + c.status().ToString();
    admin_ = std::move(*c);
  }
  // Sessions of a process that just ended go away asynchronously: a bounded moment for them.
  std::string n;
  for (int i = 0; i < 50; ++i) {
    auto r = admin_->Query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'");
    n = r.ok() ? r->Get(0, 0) : "error: " + r.status().ToString();
    if (n == "0") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return n;
}

}  // namespace su::testing
