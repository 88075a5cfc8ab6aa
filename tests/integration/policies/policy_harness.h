// PolicyHarness: one fresh database, a migrations folder and a Reconciler wired to the real edges
// (ConnectPostgres, MakeEngine, pg_dump/pg_restore through PosixProcessRunner, the pg_stat_activity
// watch), with a FakeClock so window and backoff decisions never depend on wall time. Also the
// observations the policy tests compare: schema_migration, plain pg_dump output, audit rows, and
// every text the tool produced (status JSON, events, log lines) for the no-secret checks.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/spec.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/database/database.h"
#include "reconcilers/schemaupgrade/reconciler.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/temp_dir.h"

namespace su::testing {

// Every log line of the test binary (the reconciler, the engine and the watch log from several
// threads); installed once, kept for the secret checks.
std::vector<std::string> CapturedLogs();

// Parses a Time "2026-03-10T12:00:00Z" (aborts the test on a typo).
Clock::TimePoint At(const std::string& rfc3339);

// The DSN's environment variable name used by every manifest of these tests.
inline constexpr const char* kDsnEnv = "POLICIES_DSN";

// The real pg_dump/pg_restore tool, with `after_dump` run once each backup is written (a test's
// fault point: edit the folder, move the clock, while the approved run takes its backup).
std::unique_ptr<BackupTool> HookedBackupTool(std::function<void()> after_dump);

class PolicyHarness {
 public:
  explicit PolicyHarness(const std::string& prefix, Clock::TimePoint start = At("2026-03-10T12:00:00Z"));

  const std::string& dsn() const { return dsn_; }
  const std::string& dir() const { return tmp_.path(); }
  std::string migrations_dir() const { return tmp_.Path("migrations"); }
  std::string backups_dir() const { return tmp_.Path("backups"); }
  FakeClock& clock() { return clock_; }
  StatusStore* store() { return store_.get(); }

  // Writes dir()/rel and returns its path.
  std::string Write(const std::string& rel, const std::string& content) const { return tmp_.Write(rel, content); }
  // <version>_<name>.up.sql (and .down.sql when down is given) in migrations_dir().
  void WriteMigration(const std::string& version, const std::string& name, const std::string& up,
                      const std::string& down = "");

  // Parses one manifest: metadata.name `name`, sql engine on migrations_dir(), DSN from kDsnEnv,
  // `policy_yaml` inserted under spec.policy (lines indented by 4 spaces, may be empty).
  SchemaUpgrade Manifest(const std::string& name, const std::string& target, const std::string& policy_yaml) const;
  // The YAML text Manifest() parses (for CLI tests that write it to a file).
  std::string ManifestYaml(const std::string& name, const std::string& target, const std::string& policy_yaml) const;

  // Reconciler deps on the real edges. watch_interval 0: no watch.
  ReconcilerDeps Deps(std::chrono::milliseconds watch_interval = std::chrono::milliseconds(0));
  // Reconciles and records the outcome's status JSON for the secret checks.
  ReconcileOutcome Reconcile(Reconciler& r, const SchemaUpgrade& su, bool force = false);

  std::unique_ptr<Database> Connect(const std::string& app = "policies-test") const;
  std::string Scalar(const std::string& sql) const;
  // Versions in schema_migration, oldest first (empty when the table does not exist).
  std::vector<std::string> History() const;
  std::vector<AuditEntry> Audit() const;
  // Plain pg_dump of the database with `extra` arguments (deterministic: fixed \restrict key).
  std::string Dump(const std::vector<std::string>& extra = {}) const;

  // Fails the test when the server password appears in `text`.
  void ExpectNoSecret(const std::string& text, const std::string& where) const;
  // Status JSON of every outcome seen, stored statuses, events, audit rows and captured logs.
  void ExpectNoSecretAnywhere() const;

  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> l(*mu_);
    return *events_;
  }

 private:
  TempDir tmp_;
  std::string dsn_;
  FakeClock clock_;
  std::unique_ptr<StatusStore> store_;
  std::unique_ptr<BackupTool> backup_;
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::string>> events_ = std::make_shared<std::vector<std::string>>();
  std::vector<std::string> outcomes_;  // status JSON of each Reconcile
};

}  // namespace su::testing
