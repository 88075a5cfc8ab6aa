// PolicyHarness (see policy_harness.h).
#include "tests/integration/policies/policy_harness.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/schemaupgrade/lock_watch.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

std::mutex& LogMu() {
  static std::mutex mu;
  return mu;
}
std::vector<std::string>& LogLines() {
  static std::vector<std::string> lines;
  return lines;
}

void InstallLogSink() {
  static bool installed = [] {
    SetLogSink([](const std::string& line) {
      std::lock_guard<std::mutex> l(LogMu());
      LogLines().push_back(line);
    });
    return true;
  }();
  (void)installed;
}

std::string Indent(const std::string& text, const std::string& pad) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += pad + line + "\n";
  return out;
}

class HookedBackup : public BackupTool {
 public:
  explicit HookedBackup(std::function<void()> after_dump)
      : inner_(NewPgBackupTool(PosixProcessRunner())), after_dump_(std::move(after_dump)) {}
  Result<BackupFile> Backup(const std::string& dsn, const std::string& path) override {
    auto r = inner_->Backup(dsn, path);
    if (after_dump_) after_dump_();
    return r;
  }
  Result<RestoreReport> Restore(const std::string& dsn, const std::string& path,
                                const RestoreOptions& options) override {
    return inner_->Restore(dsn, path, options);
  }

 private:
  std::unique_ptr<BackupTool> inner_;
  std::function<void()> after_dump_;
};

}  // namespace

std::unique_ptr<BackupTool> HookedBackupTool(std::function<void()> after_dump) {
  return std::make_unique<HookedBackup>(std::move(after_dump));
}

std::vector<std::string> CapturedLogs() {
  std::lock_guard<std::mutex> l(LogMu());
  return LogLines();
}

Clock::TimePoint At(const std::string& rfc3339) {
  Clock::TimePoint t;
  if (!ParseTime(rfc3339, &t)) ADD_FAILURE() << "bad time " << rfc3339;
  return t;
}

PolicyHarness::PolicyHarness(const std::string& prefix, Clock::TimePoint start) : clock_(start) {
  InstallLogSink();
  dsn_ = PgServer::Shared().CreateDatabase(prefix);
  store_ = NewMemoryStatusStore();
  backup_ = NewPgBackupTool(PosixProcessRunner());
  EXPECT_TRUE(LocalFileSystem()->MakeDirs(migrations_dir()).ok());
}

void PolicyHarness::WriteMigration(const std::string& version, const std::string& name, const std::string& up,
                                   const std::string& down) {
  tmp_.Write("migrations/" + version + "_" + name + ".up.sql", up);
  if (!down.empty()) tmp_.Write("migrations/" + version + "_" + name + ".down.sql", down);
}

std::string PolicyHarness::ManifestYaml(const std::string& name, const std::string& target,
                                        const std::string& policy_yaml) const {
  std::string y =
      "apiVersion: olympus.io/v1alpha1\n"
      "kind: SchemaUpgrade\n"
      "metadata:\n"
      "  name: " + name + "\n"
      "  namespace: policies\n"
      "spec:\n"
      "  targetVersion: \"" + target + "\"\n"
      "  database:\n"
      "    dsnFrom:\n"
      "      env: " + std::string(kDsnEnv) + "\n"
      "  migrations:\n"
      "    engine: sql\n"
      "    path: " + migrations_dir() + "\n";
  if (!policy_yaml.empty()) y += "  policy:\n" + Indent(policy_yaml, "    ");
  return y;
}

SchemaUpgrade PolicyHarness::Manifest(const std::string& name, const std::string& target,
                                      const std::string& policy_yaml) const {
  auto parsed = ParseManifests(ManifestYaml(name, target, policy_yaml), "m.yaml", dir());
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  if (!parsed.ok() || parsed->size() != 1) return SchemaUpgrade{};
  return parsed->front();
}

ReconcilerDeps PolicyHarness::Deps(std::chrono::milliseconds watch_interval) {
  ReconcilerDeps d;
  d.clock = &clock_;
  d.fs = LocalFileSystem();
  d.store = store_.get();
  d.connect = [](const std::string& dsn, const std::string& app) { return ConnectPostgres(dsn, app); };
  d.make_engine = [](const SchemaUpgrade& su, const std::string& dsn, const std::string& image) {
    return MakeEngine(su, dsn, image, LocalFileSystem(), nullptr);
  };
  d.backup = backup_.get();
  if (watch_interval.count() > 0) {
    d.watch = [watch_interval](const std::string& dsn) { return NewPgMigrationWatch(dsn, watch_interval); };
  }
  std::string dsn = dsn_;
  d.getenv = [dsn](const char* name) -> const char* {
    static thread_local std::string value;
    if (std::string(name) == kDsnEnv) {
      value = dsn;
      return value.c_str();
    }
    return std::getenv(name);
  };
  d.default_backup_dir = backups_dir();
  auto mu = mu_;
  auto events = events_;
  d.on_event = [mu, events](const std::string& key, const std::string& type, const std::string& reason,
                            const std::string& message) {
    std::lock_guard<std::mutex> l(*mu);
    events->push_back(key + " " + type + " " + reason + " " + message);
  };
  return d;
}

ReconcileOutcome PolicyHarness::Reconcile(Reconciler& r, const SchemaUpgrade& su, bool force) {
  ReconcileOptions opt;
  opt.force = force;
  ReconcileOutcome out = r.Reconcile(su, opt);
  outcomes_.push_back(StatusToJson(out.status) + "\n" + out.result.ToString());
  return out;
}

std::unique_ptr<Database> PolicyHarness::Connect(const std::string& app) const {
  auto db = ConnectPostgres(dsn_, app);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

std::string PolicyHarness::Scalar(const std::string& sql) const {
  auto db = Connect();
  if (!db) return "<no connection>";
  auto r = db->Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok() || r->rows.empty()) return "<none>";
  return r->Get(0, 0, "<null>");
}

std::vector<std::string> PolicyHarness::History() const {
  std::vector<std::string> out;
  auto db = Connect();
  if (!db) return out;
  auto exists = db->Query("SELECT to_regclass('public.schema_migration') IS NOT NULL");
  if (!exists.ok() || exists->Get(0, 0) != "t") return out;
  auto r = db->Query("SELECT version FROM schema_migration ORDER BY version");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (r.ok()) {
    for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
  }
  return out;
}

std::vector<AuditEntry> PolicyHarness::Audit() const {
  auto db = Connect();
  if (!db) return {};
  AuditLog log(db.get());
  auto l = log.List(10000);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? *l : std::vector<AuditEntry>{};
}

std::string PolicyHarness::Dump(const std::vector<std::string>& extra) const {
  auto env = DsnToPgEnv(dsn_);
  EXPECT_TRUE(env.ok());
  if (!env.ok()) return "";
  ProcessSpec spec;
  spec.argv = {PgServer::BinDir() + "/pg_dump", "--no-password", "--restrict-key=policiestest"};
  spec.argv.insert(spec.argv.end(), extra.begin(), extra.end());
  spec.env = *env;
  auto r = PosixProcessRunner()->Run(spec);
  EXPECT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Tail() : r.status().ToString());
  return r.ok() ? r->out : "";
}

void PolicyHarness::ExpectNoSecret(const std::string& text, const std::string& where) const {
  const std::string& pw = PgServer::Shared().password();
  ASSERT_FALSE(pw.empty());
  EXPECT_EQ(text.find(pw), std::string::npos) << "the database password leaked into " << where << ":\n" << text;
}

void PolicyHarness::ExpectNoSecretAnywhere() const {
  for (const auto& o : outcomes_) ExpectNoSecret(o, "a reconcile outcome (status JSON / result)");
  auto all = store_->List();
  ASSERT_TRUE(all.ok());
  for (const auto& [key, st] : *all) ExpectNoSecret(StatusToJson(st), "stored status of " + key);
  for (const auto& e : events()) ExpectNoSecret(e, "an event");
  for (const auto& a : Audit()) {
    ExpectNoSecret(a.resource + a.engine + a.version + a.name + a.direction + a.status + a.error +
                       a.failing_statement + a.actor + a.detail,
                   "audit row " + std::to_string(a.id));
  }
  for (const auto& l : CapturedLogs()) ExpectNoSecret(l, "a log line");
}

}  // namespace su::testing
