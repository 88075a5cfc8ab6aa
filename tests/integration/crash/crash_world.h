// CrashWorld: what one crash-safety case needs, built fresh for each case: a new database, a new
// compose project (its own folder, container name and network), a new state dir, a manifest, and
// the means to run the real `schema-upgrade` binary (controller or apply) in the background with
// SU_CRASH_AT, wait for its end or for a status phase, and check the end state (history rows,
// audit rows, compose file bytes, running image, advisory locks, backups).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/temp_dir.h"

namespace su::testing {

// Images shared by the sql cases: a busybox pair that just stays up (v1, v2).
struct CrashImages {
  std::string repo;  // short name as the compose file writes it, e.g. crashtest-123/app
  bool ok = false;
  std::string error;
};
// Builds the pair once per test binary (podman import of a static busybox rootfs).
const CrashImages& AppImages();
// Builds the Kratos/Hydra fixture images (tests/fixtures/images/build.sh, idempotent).
Status BuildOryFixtureImages();
// Removes the busybox pair (call from the suite's teardown).
void RemoveAppImages();

// podman with CONTAINERS_CONF set; argv without the leading "podman".
Result<ProcessResult> Podman(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(60));
std::map<std::string, std::string> PodmanEnv();

struct WorldOptions {
  enum class Engine { kSql, kOry } engine = Engine::kSql;
  bool workload = true;     // a compose service to bump (v1 -> v2)
  bool backup = true;
  int big = 0;              // > 0: that many small migrations with a short pg_sleep instead of the 5-file set
  bool slow_migration = false;  // the 5-file set plus a 6th file that sleeps 3 s (SIGTERM cases)
};

class CrashWorld {
 public:
  explicit CrashWorld(WorldOptions o);
  ~CrashWorld();  // removes the container and the compose network

  // Empty when setup went well; else why not.
  const std::string& setup_error() const { return setup_error_; }

  // Runs `schema-upgrade controller` / `apply` in the background; crash_at empty: no SU_CRASH_AT.
  std::unique_ptr<BackgroundProcess> StartController(const std::string& crash_at);
  std::unique_ptr<BackgroundProcess> StartApply(const std::string& crash_at);

  std::optional<ResourceStatus> LoadStatus() const;
  // Polls the status until phase is `want` (true), the process ends, a Failed phase is seen, or the
  // bound passes (false, with why). With `written_since` (a StatusStamp() taken before p started),
  // only a status file written after that counts: a restart must make its own pass (and by then
  // it has installed its signal handlers), not be credited with the killed run's Succeeded.
  bool WaitForPhase(BackgroundProcess* p, Phase want, std::chrono::seconds bound, std::string* why,
                    const std::string& written_since = "");
  // Identity of the status file as last written (inode and mtime in ns; "" when absent).
  std::string StatusStamp() const;

  // A fresh session on the case's database (owned by the world; reconnects if needed).
  Database* db();
  std::string Sql1(const std::string& sql);  // first column of the first row, "" when none / error

  // ---- end-state checks (gtest assertions inside) ----
  void ExpectHistoryExactlyOnce();
  void ExpectAuditClean(bool exactly_once_per_version);
  void ExpectBumpedOnce();
  void ExpectNoAdvisoryLock();
  void ExpectBackups();
  void ExpectConverged(bool audit_exactly_once = true);

  const std::vector<std::string>& versions() const { return versions_; }
  const std::string& container() const { return container_; }
  const std::string& new_image() const { return new_image_; }
  const std::string& dsn() const { return dsn_; }
  const std::string& state_dir() const { return state_dir_; }
  const WorldOptions& options() const { return o_; }
  std::string LogPath(const std::string& what);
  std::map<std::string, std::string> Env(const std::string& crash_at) const;

 private:
  void WriteSqlMigrations();
  void WriteCompose();
  void WriteManifest();
  bool PrepareOry();

  WorldOptions o_;
  TempDir dir_;
  std::string id_;
  std::string setup_error_;
  std::string dsn_;
  std::string project_;
  std::string compose_file_;
  std::string compose_v1_;
  std::string compose_v2_;
  std::string container_;
  std::string old_image_;
  std::string new_image_;
  std::string manifests_;
  std::string manifest_;
  std::string state_dir_;
  std::string backups_;
  std::vector<std::string> versions_;           // expected in the history, in order
  std::vector<std::string> tables_;             // expected to exist after the upgrade
  std::vector<std::string> concurrent_indexes_; // expected valid after the upgrade
  std::unique_ptr<Database> db_;
  int logs_ = 0;
};

}  // namespace su::testing
