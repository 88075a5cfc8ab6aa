// ControllerWorld: one controller case built fresh: a temp folder holding the watched manifests
// folder, the state dir and one sql-migrations folder per resource; a fresh database per resource;
// the real `schema-upgrade controller` started in the background; bounded polling of the status
// files and the log; a minimal HTTP/1.1 GET for the metrics and health endpoints.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "tests/support/bg_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su::testing {

inline constexpr const char* kNamespace = "ctrl";

struct HttpReply {
  int code = 0;  // 0: no answer
  std::string body;
};
// GET path on 127.0.0.1:port with Connection: close; code 0 when nothing answered.
HttpReply HttpGet(int port, const std::string& path);

class ControllerWorld {
 public:
  ControllerWorld();
  ~ControllerWorld();

  // Databases of later AddDatabase calls live on `server` (default: PgServer::Shared()); a test
  // that stops its server (an outage) uses one of its own.
  void UseServer(PgServer* server) { server_ = server; }
  // A resource `name`: a fresh database (DSN in env var <NAME>_DSN) and a migrations folder.
  // Returns the DSN.
  std::string AddDatabase(const std::string& name);
  // Gives `name` a DSN of choice instead (e.g. a port with no server).
  void SetDsn(const std::string& name, const std::string& dsn);
  // Writes <version>_<slug>.up.sql into name's migrations folder.
  void AddMigration(const std::string& name, const std::string& version, const std::string& sql);
  // A SchemaUpgrade manifest for `name` (sql engine, no workload, no backup); policy_extra is
  // appended under `policy:` (indented by 4).
  std::string Manifest(const std::string& name, const std::string& target, const std::string& policy_extra = "") const;
  // Writes content to manifests/<file> in place (open, write, close).
  std::string WriteManifestFile(const std::string& file, const std::string& content);
  // Writes content to manifests/.<file>.tmp, then renames it over manifests/<file> (an editor's save).
  std::string ReplaceManifestFile(const std::string& file, const std::string& content);

  // Starts the controller with --manifests, --state-dir and extra flags.
  BackgroundProcess* Start(const std::vector<std::string>& extra_flags);
  BackgroundProcess* process() { return proc_.get(); }
  // SIGTERM, then the exit status (nullopt if it did not end within the bound).
  std::optional<ProcessEnd> Terminate(std::chrono::seconds bound = std::chrono::seconds(60));

  std::optional<ResourceStatus> LoadStatus(const std::string& name) const;
  // Polls until pred(status of name) holds (true) or the bound passes / the controller ended
  // (false, why filled with the last status and the log tail). on_seen sees every status read.
  bool WaitFor(const std::string& name, const std::function<bool(const ResourceStatus&)>& pred, std::string* why,
               std::chrono::seconds bound = std::chrono::seconds(60),
               const std::function<void(const ResourceStatus&)>& on_seen = nullptr);
  bool WaitSucceeded(const std::string& name, const std::string& target, std::string* why);
  // Polls the controller's log until it contains needle (bounded).
  bool WaitForLog(const std::string& needle, std::string* why, std::chrono::seconds bound = std::chrono::seconds(30));
  std::string Log() const;
  // The raw bytes of every status file, concatenated (for secret checks).
  std::string StatusFilesText() const;
  // `schema-upgrade status --all -o json --state-dir D`.
  std::string StatusCliJson() const;

  // First column of the first row of sql on name's database ("" when none or error).
  std::string Sql1(const std::string& name, const std::string& sql);
  // "version:count" pairs from schema_migration, in version order, comma-separated.
  std::string HistoryCounts(const std::string& name);
  int AdvisoryLocks(const std::string& name);

  std::string Describe(const std::optional<ResourceStatus>& st) const;
  const std::string& manifests_dir() const { return manifests_; }
  const std::string& state_dir() const { return state_; }

 private:
  TempDir dir_;
  std::string manifests_;
  std::string state_;
  std::map<std::string, std::string> dsns_;  // resource name -> DSN
  std::unique_ptr<BackgroundProcess> proc_;
  PgServer* server_ = nullptr;
};

}  // namespace su::testing
