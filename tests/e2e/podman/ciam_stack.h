// CiamStack: one end-to-end world for the Podman workflow, built fresh per test: a database per
// service on the shared PostgreSQL, migrated to the version the stack runs today (`schema-upgrade
// apply` of a workload-less bootstrap manifest), a podman-compose project of Kratos / Hydra / Athena
// fixture images at those old versions (own folder, network and container names, so cases never
// share containers; the SchemaUpgrade namespace is ciam-<pid>, because the ory engine names its
// migration container after the resource, host-wide), a manifests folder for the controller and a state dir. The compose services
// sit on the project's bridge network and reach PostgreSQL through its mounted UNIX socket; the
// controller and the migration containers use TCP with the password DSN from the manifest's env var.
// The destructor removes the containers and the compose network, also when a test failed.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "reconcilers/base/process.h"
#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/temp_dir.h"

namespace su::testing {

// One service of the stack and its upgrade.
struct CiamService {
  std::string key;            // compose service key and SchemaUpgrade name: kratos | hydra | athena
  std::string ns = "ciam";    // SchemaUpgrade namespace (CiamStack makes it unique per test process)
  std::string container;      // ciam-<key>-<pid>-<case>
  std::string db;             // database name
  std::string dsn;            // TCP DSN with the password (never printed)
  std::string env_var;        // KRATOS_DSN ...
  std::string old_image;      // what the compose file runs today
  std::string new_image;      // what the manifest asks for
  std::string new_version;    // the manifest's targetVersion
  std::string drizzle_folder; // athena: the fixture folder the manifest applies (default new_version)
  std::vector<std::string> old_versions;  // history rows after the bootstrap
  std::vector<std::string> new_versions;  // history rows the upgrade adds
  std::string Resource() const { return ns + "/" + key; }
};

// The stock upgrades: kratos v1.1.0 -> v1.2.0, hydra v2.2.0 -> v2.3.0, athena v1.0.0 -> v1.1.0.
CiamService StockService(const std::string& key);

// podman (CONTAINERS_CONF set), argv without the leading "podman".
Result<ProcessResult> Podman(std::vector<std::string> args);
// Builds the fixture images once per test binary (tests/fixtures/images/build.sh, idempotent).
Status BuildFixtureImages();

class CiamStack {
 public:
  // services: which of kratos, hydra, athena (StockService values, possibly edited).
  explicit CiamStack(std::vector<CiamService> services);
  ~CiamStack();
  CiamStack(const CiamStack&) = delete;

  // Bootstraps the databases to the old versions and brings the compose project up; waits until
  // every container runs. Returns why not on failure.
  Status Up();

  CiamService& service(const std::string& key);
  const std::vector<CiamService>& services() const { return services_; }
  std::vector<std::string> Resources() const;  // namespace/name of every service
  const std::string& compose_file() const { return compose_file_; }
  const std::string& compose_text() const { return compose_text_; }  // as written by Up()
  const std::string& state_dir() const { return state_dir_; }
  std::string ManifestPath(const std::string& key) const;

  // Writes the manifest of service key into the controller's folder. policy is YAML under
  // spec.policy, indented by 4 spaces (lines of "    key: value").
  void WriteManifest(const CiamService& s, const std::string& policy);

  // Environment for schema-upgrade processes: CONTAINERS_CONF, the DSN variables, SU_STATE_DIR.
  std::map<std::string, std::string> Env() const;
  // Starts `schema-upgrade controller --manifests <folder>` in the background (log in the temp dir).
  std::unique_ptr<BackgroundProcess> StartController();
  // Polls the stored status until every listed resource is in phase want, the process ends, or a
  // bound passes (hang guard). On false, why says what was seen last.
  bool WaitForPhases(BackgroundProcess* p, const std::vector<std::string>& resources, Phase want,
                     std::chrono::seconds bound, std::string* why);
  std::optional<ResourceStatus> LoadStatus(const std::string& resource) const;

  // `podman-compose -f <file> ARGS` in the project's folder (what an operator types).
  Result<ProcessResult> Compose(const std::vector<std::string>& args);
  // (state, image) of a container from `podman ps -a`; empty state when there is none.
  std::pair<std::string, std::string> PsRow(const std::string& container);
  // Waits (bounded) until the container is no longer "running"/"created"; returns its final state.
  std::string WaitExited(const std::string& container, std::chrono::seconds bound);

  // A session on service key's database.
  Database* db(const std::string& key);
  // First column of every row.
  std::vector<std::string> Column(const std::string& key, const std::string& sql,
                                  const std::vector<SqlValue>& params = {});
  // Advisory locks held on the server (any database).
  std::string AdvisoryLocks();
  // Reads the compose file as it is now.
  std::string ReadCompose() const;

 private:
  Status Bootstrap();
  void WriteCompose();
  Status WaitAllRunning(std::chrono::seconds bound);

  std::vector<CiamService> services_;
  TempDir dir_;
  std::string project_;
  std::string compose_file_;
  std::string compose_text_;
  std::string manifests_;
  std::string state_dir_;
  std::map<std::string, std::unique_ptr<Database>> dbs_;
  std::unique_ptr<Database> admin_;
  int logs_ = 0;
};

}  // namespace su::testing
