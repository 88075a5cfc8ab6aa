// CrashWorld (see crash_world.h).
#include "tests/integration/crash/crash_world.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "reconcilers/base/fs.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/cli_runner.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

std::string ContainersConf() { return SourceDir() + "/tests/fixtures/podman/containers.conf"; }

Result<ProcessResult> Run(std::vector<std::string> argv, std::chrono::seconds timeout = std::chrono::seconds(120)) {
  ProcessSpec ps;
  ps.argv = std::move(argv);
  ps.env = PodmanEnv();
  ps.timeout = timeout;
  return PosixProcessRunner()->Run(ps);
}

std::string Fail(const Result<ProcessResult>& r) {
  return r.ok() ? r->Tail(10) : r.status().ToString();
}

bool Ok(const Result<ProcessResult>& r) { return r.ok() && r->Succeeded(); }

// The PostgreSQL server's UNIX socket dir, for containers on the compose network (no TCP there).
std::string SocketDir() {
  return std::filesystem::path(PgServer::Shared().data_dir()).parent_path().string();
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::map<std::string, std::string> PodmanEnv() { return {{"CONTAINERS_CONF", ContainersConf()}}; }

Result<ProcessResult> Podman(std::vector<std::string> args, std::chrono::seconds timeout) {
  args.insert(args.begin(), "podman");
  return Run(std::move(args), timeout);
}

const CrashImages& AppImages() {
  static CrashImages images = [] {
    CrashImages im;
    im.repo = "crashtest-" + std::to_string(getpid()) + "/app";
    TempDir dir;
    std::string root = dir.Path("rootfs");
    std::error_code ec;
    std::filesystem::create_directories(root + "/bin", ec);
    if (ec || symlink("busybox", (root + "/bin/sh").c_str()) != 0) {
      im.error = "cannot create the rootfs";
      return im;
    }
    auto cp = Run({"cp", "/bin/busybox", root + "/bin/busybox"});
    auto tar = Run({"tar", "-C", root, "-cf", dir.Path("rootfs.tar"), "."});
    if (!Ok(cp) || !Ok(tar)) {
      im.error = "cannot build rootfs.tar (is busybox-static installed?): " + Fail(Ok(cp) ? tar : cp);
      return im;
    }
    // sh as PID 1 ignores SIGTERM unless trapped; the trap keeps `podman rm -t` quick.
    const std::string stay_up = "trap 'exit 0' TERM; echo app $0 up; while :; do sleep 1; done";
    for (const char* tag : {"v1", "v2"}) {
      auto r = Podman({"import", "--change", "ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"" + stay_up + "\"]",
                       dir.Path("rootfs.tar"), "localhost/" + im.repo + ":" + tag});
      if (!Ok(r)) {
        im.error = std::string("podman import ") + tag + ": " + Fail(r);
        return im;
      }
    }
    im.ok = true;
    return im;
  }();
  return images;
}

void RemoveAppImages() {
  const CrashImages& im = AppImages();
  for (const char* tag : {"v1", "v2"}) (void)Podman({"rmi", "-f", "localhost/" + im.repo + ":" + tag});
}

Status BuildOryFixtureImages() {
  auto r = Run({SourceDir() + "/tests/fixtures/images/build.sh"}, std::chrono::seconds(300));
  if (!Ok(r)) return Status::Failed("tests/fixtures/images/build.sh failed: " + Fail(r));
  return Status::Ok();
}

CrashWorld::CrashWorld(WorldOptions o) : o_(o) {
  static std::atomic<int> counter{0};
  id_ = "c" + std::to_string(++counter);
  std::string pid = std::to_string(getpid());
  dsn_ = PgServer::Shared().CreateDatabase("crash");
  project_ = "crash" + pid + id_;
  container_ = "crash-" + pid + "-" + id_ + "-app";
  manifests_ = dir_.Path("manifests");
  manifest_ = manifests_ + "/resource.yaml";
  state_dir_ = dir_.Path("state");
  backups_ = dir_.Path("backups");
  std::filesystem::create_directories(manifests_);
  std::filesystem::create_directories(state_dir_);
  if (o_.engine == WorldOptions::Engine::kSql) {
    WriteSqlMigrations();
    if (o_.workload) {
      const CrashImages& im = AppImages();
      if (!im.ok) {
        setup_error_ = im.error;
        return;
      }
      old_image_ = im.repo + ":v1";
      new_image_ = im.repo + ":v2";
      WriteCompose();
    }
  } else {
    old_image_ = "localhost/oryd/kratos:v1.1.0";
    new_image_ = "localhost/oryd/kratos:v1.2.0";
    WriteCompose();
    if (!PrepareOry()) return;
  }
  WriteManifest();
}

CrashWorld::~CrashWorld() {
  if (!container_.empty()) (void)Podman({"rm", "-f", "-t", "0", "--ignore", container_});
  // Migration containers of this case (ory), named after the resource, and the compose network.
  (void)Podman({"network", "rm", "-f", project_ + "_default"});
  db_.reset();
}

void CrashWorld::WriteSqlMigrations() {
  std::vector<std::pair<std::string, std::string>> files;  // name, content
  if (o_.big > 0) {
    for (int i = 1; i <= o_.big; ++i) {
      char v[32];
      std::snprintf(v, sizeof v, "202602%08d", i);
      std::string t = "big_" + std::to_string(i);
      files.push_back({std::string(v) + "_" + t,
                       "CREATE TABLE " + t + " (id int PRIMARY KEY, note text);\n"
                       "INSERT INTO " + t + " SELECT g, 'row ' || g FROM generate_series(1, 50) g;\n"
                       "SELECT pg_sleep(0.04);\n"});
      versions_.push_back(v);
      tables_.push_back(t);
    }
  } else {
    files = {
        {"20260101000001_create_accounts",
         "CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL);\n"
         "INSERT INTO accounts (email) SELECT 'user' || g || '@example.org' FROM generate_series(1, 300) g;\n"
         "CREATE TABLE audit_trail (id serial PRIMARY KEY, note text);\n"},
        {"20260101000002_display_name",
         "ALTER TABLE accounts ADD COLUMN display_name text;\n"
         "UPDATE accounts SET display_name = split_part(email, '@', 1);\n"
         "ALTER TABLE accounts ALTER COLUMN display_name SET NOT NULL;\n"},
        {"20260101000003_index_accounts",
         "-- schema-upgrade: no-transaction\n"
         "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_idx ON accounts (email);\n"
         "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_display_name_idx ON accounts (display_name);\n"},
        {"20260101000004_sessions",
         "CREATE TABLE sessions (id serial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id));\n"
         "CREATE INDEX sessions_account_idx ON sessions (account_id);\n"
         "INSERT INTO sessions (account_id) SELECT id FROM accounts WHERE id <= 50;\n"},
        {"20260101000005_roles",
         "CREATE TABLE roles (name text PRIMARY KEY);\n"
         "INSERT INTO roles VALUES ('admin'), ('user');\n"
         "ALTER TABLE accounts ADD COLUMN role text NOT NULL DEFAULT 'user' REFERENCES roles (name);\n"},
    };
    if (o_.slow_migration) {
      files.push_back({"20260101000006_slow",
                       "CREATE TABLE slow_done (id int);\n"
                       "SELECT pg_sleep(3);\n"
                       "INSERT INTO slow_done VALUES (1);\n"});
    }
    for (const auto& f : files) versions_.push_back(f.first.substr(0, 14));
    tables_ = {"accounts", "audit_trail", "sessions", "roles"};
    if (o_.slow_migration) tables_.push_back("slow_done");
    concurrent_indexes_ = {"accounts_email_idx", "accounts_display_name_idx"};
  }
  for (const auto& [name, sql] : files) dir_.Write("migrations/" + name + ".up.sql", sql);
}

void CrashWorld::WriteCompose() {
  std::ostringstream y;
  if (o_.engine == WorldOptions::Engine::kSql) {
    y << "# crash test stack (comments and layout must survive the bump)\n"
      << "services:\n"
      << "  app:   # the service under test\n"
      << "    image: " << old_image_ << "   # bumped by the controller\n"
      << "    container_name: " << container_ << "\n"
      << "    restart: \"no\"\n";
  } else {
    // The container reaches PostgreSQL through the socket (podman-compose 1.0.3 cannot use the host
    // network); the fixture entrypoint turns an empty host into libpq's default socket dir.
    y << "# kratos under podman-compose\n"
      << "services:\n"
      << "  kratos:\n"
      << "    image: " << old_image_ << "\n"
      << "    container_name: " << container_ << "\n"
      << "    restart: \"no\"\n"
      << "    environment:\n"
      << "      DSN: postgres://postgres@:" << PgServer::Shared().port() << "/" << PgServer::DbNameOf(dsn_)
      << "?sslmode=disable\n"
      << "    volumes:\n"
      << "      - " << SocketDir() << ":/var/run/postgresql\n";
  }
  compose_v1_ = y.str();
  compose_v2_ = compose_v1_;
  auto at = compose_v2_.find(old_image_);
  compose_v2_.replace(at, old_image_.size(), new_image_);
  compose_file_ = dir_.Write(project_ + "/docker-compose.yml", compose_v1_);
}

void CrashWorld::WriteManifest() {
  bool sql = o_.engine == WorldOptions::Engine::kSql;
  std::ostringstream m;
  m << "apiVersion: olympus.io/v1alpha1\n"
    << "kind: SchemaUpgrade\n"
    << "metadata:\n"
    << "  name: " << (sql ? "app" : "kratos") << "\n"
    << "  namespace: crash\n"
    << "spec:\n";
  if (sql) {
    m << "  targetVersion: v2\n";
  } else {
    m << "  service: kratos\n"
      << "  targetVersion: v1.2.0\n";
  }
  if (!compose_file_.empty()) {
    m << "  workload:\n"
      << "    kind: ComposeService\n"
      << "    name: " << container_ << "\n"
      << "    service: " << (sql ? "app" : "kratos") << "\n"
      << "    composeFile: ../" << project_ << "/docker-compose.yml\n";
  }
  m << "  database:\n"
    << "    dsnFrom:\n"
    << "      env: APP_DSN\n"
    << "  migrations:\n";
  if (sql) {
    m << "    engine: sql\n"
      << "    path: ../migrations\n";
  } else {
    m << "    engine: ory\n";
  }
  m << "  policy:\n"
    << "    backup:\n"
    << "      enabled: " << (o_.backup ? "true" : "false") << "\n"
    << "      dir: ../backups\n"
    << "    lockWait: 20s\n"
    << "    statementTimeout: 1m\n"
    << "    retries:\n"
    << "      limit: 100\n"
    << "      backoff: {initial: 200ms, max: 1s}\n"
    << "    onFailure: halt\n"
    << "    verify:\n"
    << "      settle: 500ms\n";
  dir_.Write("manifests/resource.yaml", m.str());
}

bool CrashWorld::PrepareOry() {
  // The database at Kratos v1.1.0, and v1.1.0 serving, before the upgrade starts.
  ProcessSpec ps;
  ps.argv = {"podman", "run", "--rm", "--network", "host", "--pull", "never", "--env", "DSN", old_image_,
             "migrate", "sql", "up", "-e", "--yes"};
  ps.env = PodmanEnv();
  ps.env["DSN"] = dsn_;
  ps.timeout = std::chrono::seconds(120);
  auto r = PosixProcessRunner()->Run(ps);
  if (!Ok(r)) {
    setup_error_ = "kratos v1.1.0 migrate: " + Fail(r);
    return false;
  }
  ProcessSpec up;
  up.argv = {"podman-compose", "-f", compose_file_, "up", "-d", "kratos"};
  up.env = PodmanEnv();
  up.cwd = dir_.Path(project_);
  up.timeout = std::chrono::seconds(120);
  auto u = PosixProcessRunner()->Run(up);
  if (!Ok(u)) {
    setup_error_ = "podman-compose up kratos v1.1.0: " + Fail(u);
    return false;
  }
  versions_ = {"20240101000001000000", "20240101000002000000", "20240101000003000000", "20240101000004000000",
               "20240301000001000000", "20240301000002000000", "20240301000003000000"};
  tables_ = {"networks", "identities", "identity_credentials", "sessions", "identity_verifiable_addresses"};
  return true;
}

std::string CrashWorld::LogPath(const std::string& what) {
  return dir_.Path(std::to_string(++logs_) + "-" + what + ".log");
}

std::map<std::string, std::string> CrashWorld::Env(const std::string& crash_at) const {
  auto env = PodmanEnv();
  env["APP_DSN"] = dsn_;
  env["SU_LOG_LEVEL"] = "info";
  env["SU_CRASH_AT"] = crash_at.empty() ? kUnsetEnv : crash_at;
  env["SU_STATE_DIR"] = kUnsetEnv;
  return env;
}

std::unique_ptr<BackgroundProcess> CrashWorld::StartController(const std::string& crash_at) {
  auto p = std::make_unique<BackgroundProcess>();
  bool ok = p->Start({CliBinary(), "controller", "--manifests", manifests_, "--state-dir", state_dir_, "--workers", "1",
                      "--resync", "2s"},
                     Env(crash_at), LogPath("controller" + (crash_at.empty() ? "" : "-" + crash_at)));
  EXPECT_TRUE(ok) << "cannot start " << CliBinary();
  return p;
}

std::unique_ptr<BackgroundProcess> CrashWorld::StartApply(const std::string& crash_at) {
  auto p = std::make_unique<BackgroundProcess>();
  bool ok = p->Start({CliBinary(), "apply", "-f", manifest_, "--state-dir", state_dir_, "-q", "--wait", "60s"},
                     Env(crash_at), LogPath("apply" + (crash_at.empty() ? "" : "-" + crash_at)));
  EXPECT_TRUE(ok) << "cannot start " << CliBinary();
  return p;
}

std::optional<ResourceStatus> CrashWorld::LoadStatus() const {
  auto store = NewDirStatusStore(LocalFileSystem(), state_dir_ + "/status");
  auto key = std::string("crash/") + (o_.engine == WorldOptions::Engine::kSql ? "app" : "kratos");
  auto st = store->Load(key);
  if (!st.ok() || !st->has_value()) return std::nullopt;
  return **st;
}

std::string CrashWorld::StatusStamp() const {
  struct stat sb;
  std::string path = state_dir_ + "/status/crash__" + (o_.engine == WorldOptions::Engine::kSql ? "app" : "kratos") + ".json";
  if (stat(path.c_str(), &sb) != 0) return "";
  return std::to_string(sb.st_ino) + ":" + std::to_string(sb.st_mtim.tv_sec) + "." + std::to_string(sb.st_mtim.tv_nsec);
}

bool CrashWorld::WaitForPhase(BackgroundProcess* p, Phase want, std::chrono::seconds bound, std::string* why,
                              const std::string& written_since) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  // A pass that finds the resource converged writes no status (only timestamps would change), so
  // when the killed run had already written `want`, the restart is credited once it has started
  // (signal handlers installed); the end-state checks then prove it applied nothing twice.
  auto initial = LoadStatus();
  bool already = !written_since.empty() && initial && initial->phase == want;
  for (;;) {
    bool fresh = written_since.empty() || StatusStamp() != written_since ||
                 (already && p->LogTail(1 << 20).find("event=controller.started") != std::string::npos);
    auto st = LoadStatus();
    if (st && st->phase == want && fresh) return true;
    if (st && st->phase == Phase::kFailed && want != Phase::kFailed && fresh) {
      *why = "status went Failed: " + st->last_error + "\n--- log:\n" + p->LogTail();
      return false;
    }
    if (auto end = p->Poll()) {
      st = LoadStatus();
      if (st && st->phase == want && (written_since.empty() || StatusStamp() != written_since)) return true;
      *why = "the process " + end->Describe() + " before phase " + PhaseName(want) + " (phase " +
             (st ? PhaseName(st->phase) : std::string("none")) + ")\n--- log:\n" + p->LogTail();
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      *why = "no phase " + std::string(PhaseName(want)) + " within " + std::to_string(bound.count()) + " s (phase " +
             (st ? PhaseName(st->phase) + std::string(": ") + st->message : std::string("none")) + ")\n--- log:\n" +
             p->LogTail();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Database* CrashWorld::db() {
  if (!db_ || !db_->Healthy()) {
    auto c = ConnectPostgres(dsn_, "crash-test-checks");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    db_ = std::move(c).value();
  }
  return db_.get();
}

std::string CrashWorld::Sql1(const std::string& sql) {
  Database* d = db();
  if (!d) return "";
  auto r = d->Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok() || r->rows.empty() || r->rows[0].empty()) return "";
  return r->Get(0, 0);
}

void CrashWorld::ExpectHistoryExactlyOnce() {
  Database* d = db();
  ASSERT_NE(d, nullptr);
  auto r = d->Query("SELECT version, count(*) FROM schema_migration GROUP BY version ORDER BY version");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> got;
  for (size_t i = 0; i < r->rows.size(); ++i) {
    EXPECT_EQ(r->Get(i, 1), "1") << "schema_migration has version " << r->Get(i, 0) << " " << r->Get(i, 1) << " times";
    got.push_back(r->Get(i, 0));
  }
  EXPECT_EQ(Join(got), Join(versions_)) << "schema_migration versions";
  for (const auto& t : tables_) {
    EXPECT_EQ(Sql1("SELECT to_regclass('public." + t + "') IS NOT NULL"), "t") << "table " << t << " is missing";
  }
  for (const auto& idx : concurrent_indexes_) {
    EXPECT_EQ(Sql1("SELECT bool_and(i.indisvalid)::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                   "WHERE c.relname = '" + idx + "'"),
              "true")
        << "index " << idx << " missing or invalid";
  }
  if (o_.engine == WorldOptions::Engine::kSql && o_.big == 0) {
    // Data steps ran exactly once too (a re-run of a half-applied file would double them).
    EXPECT_EQ(Sql1("SELECT count(*) FROM accounts"), "300");
    EXPECT_EQ(Sql1("SELECT count(*) FROM sessions"), "50");
    EXPECT_EQ(Sql1("SELECT count(*) FROM roles"), "2");
    if (o_.slow_migration) {
      EXPECT_EQ(Sql1("SELECT count(*) FROM slow_done"), "1");
    }
  }
  for (const auto& t : tables_) {
    if (o_.big > 0) {
      EXPECT_EQ(Sql1("SELECT count(*) FROM " + t), "50") << t;
    }
  }
}

void CrashWorld::ExpectAuditClean(bool exactly_once_per_version) {
  Database* d = db();
  ASSERT_NE(d, nullptr);
  auto running = d->Query("SELECT id, engine, version, direction FROM schema_upgrade_log WHERE status = 'running'");
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  for (size_t i = 0; i < running->rows.size(); ++i) {
    ADD_FAILURE() << "audit row " << running->Get(i, 0) << " (" << running->Get(i, 1) << " " << running->Get(i, 2)
                  << " " << running->Get(i, 3) << ") is still 'running'";
  }
  std::string engine = o_.engine == WorldOptions::Engine::kSql ? "sql" : "ory";
  auto r = d->Query("SELECT version, count(*) FILTER (WHERE status = 'succeeded') FROM schema_upgrade_log "
                    "WHERE engine = $1 AND direction = 'up' AND version <> '' GROUP BY version ORDER BY version",
                    {engine});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::map<std::string, std::string> succeeded;
  for (size_t i = 0; i < r->rows.size(); ++i) succeeded[r->Get(i, 0)] = r->Get(i, 1);
  for (const auto& v : versions_) {
    if (o_.engine == WorldOptions::Engine::kOry && v < "20240301000000000000") continue;  // applied in setup
    auto it = succeeded.find(v);
    std::string n = it == succeeded.end() ? "0" : it->second;
    if (exactly_once_per_version) {
      EXPECT_EQ(n, "1") << "audit rows 'succeeded' for " << v;
    } else {
      EXPECT_TRUE(n == "0" || n == "1") << "audit rows 'succeeded' for " << v << ": " << n;
    }
  }
}

void CrashWorld::ExpectBumpedOnce() {
  if (compose_file_.empty()) return;
  auto text = LocalFileSystem()->ReadFile(compose_file_);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, compose_v2_) << "the compose file is not the expected one-line edit";
  auto r = Podman({"inspect", "--type", "container", "--format", "{{.State.Running}} {{.ImageName}}", container_});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string want = new_image_.rfind("localhost/", 0) == 0 ? new_image_ : "localhost/" + new_image_;
  EXPECT_EQ(r->out, "true " + want + "\n") << r->err;
  // Exactly one container for the service: no leftover from a killed rollout under another name.
  auto ps = Podman({"ps", "-a", "--filter", "name=" + container_, "--format", "{{.Names}}"});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, container_ + "\n");
  EXPECT_LE(std::stoi("0" + Sql1("SELECT count(*) FROM schema_upgrade_log WHERE direction = 'bump' AND "
                                 "status = 'succeeded'")),
            1);
}

void CrashWorld::ExpectNoAdvisoryLock() {
  // Sessions of a process that just ended go away asynchronously: give them a bounded moment.
  std::string q = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                  "(SELECT oid FROM pg_database WHERE datname = current_database())";
  std::string n;
  for (int i = 0; i < 100; ++i) {
    n = Sql1(q);
    if (n == "0") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(n, "0") << "advisory locks left after the controller stopped";
}

void CrashWorld::ExpectBackups() {
  if (!o_.backup) return;
  auto st = LoadStatus();
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(st->backup.has_value()) << "status names no backup";
  EXPECT_TRUE(LocalFileSystem()->Exists(st->backup->path)) << st->backup->path;
  EXPECT_GT(st->backup->size_bytes, 0);
  EXPECT_EQ(std::filesystem::weakly_canonical(std::filesystem::path(st->backup->path).parent_path()),
            std::filesystem::weakly_canonical(backups_));
}

void CrashWorld::ExpectConverged(bool audit_exactly_once) {
  auto st = LoadStatus();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(PhaseName(st->phase), std::string("Succeeded")) << st->message;
  EXPECT_TRUE(st->pending.empty()) << Join(st->pending);
  ExpectHistoryExactlyOnce();
  ExpectAuditClean(audit_exactly_once);
  ExpectBumpedOnce();
  ExpectNoAdvisoryLock();
  ExpectBackups();
}

}  // namespace su::testing
