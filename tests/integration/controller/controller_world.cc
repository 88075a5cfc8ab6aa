// ControllerWorld (see controller_world.h).
#include "tests/integration/controller/controller_world.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "reconcilers/base/fs.h"
#include "reconcilers/database/database.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/cli_runner.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

std::string Upper(std::string s) {
  for (auto& c : s) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{10, 0};  // a server that accepts but never answers must not hang the test
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

}  // namespace

HttpReply HttpGet(int port, const std::string& path) {
  HttpReply reply;
  int fd = Connect(port);
  if (fd < 0) return reply;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\nAccept: */*\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return reply;
  }
  std::string raw;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    // Connection: close should end the stream; also stop once a Content-Length body is complete.
    auto head_end = raw.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::string head = raw.substr(0, head_end);
      std::string lower = head;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      auto cl = lower.find("content-length:");
      if (cl != std::string::npos) {
        size_t len = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
        if (raw.size() >= head_end + 4 + len) break;
      }
    }
  }
  close(fd);
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return reply;
  reply.code = std::atoi(raw.c_str() + 9);
  auto head_end = raw.find("\r\n\r\n");
  if (head_end != std::string::npos) reply.body = raw.substr(head_end + 4);
  return reply;
}


ControllerWorld::ControllerWorld() {
  manifests_ = dir_.Path("manifests");
  state_ = dir_.Path("state");
  std::filesystem::create_directories(manifests_);
  std::filesystem::create_directories(state_);
}

ControllerWorld::~ControllerWorld() {
  if (proc_ && proc_->running()) {
    proc_->Signal(SIGTERM);
    (void)proc_->Wait(std::chrono::seconds(20));
  }
  proc_.reset();  // SIGKILLs what is left
}

std::string ControllerWorld::AddDatabase(const std::string& name) {
  std::string dsn = (server_ ? *server_ : PgServer::Shared()).CreateDatabase("ctrl");
  dsns_[name] = dsn;
  std::filesystem::create_directories(dir_.Path("mig-" + name));
  return dsn;
}

void ControllerWorld::SetDsn(const std::string& name, const std::string& dsn) {
  dsns_[name] = dsn;
  std::filesystem::create_directories(dir_.Path("mig-" + name));
}

void ControllerWorld::AddMigration(const std::string& name, const std::string& version, const std::string& sql) {
  dir_.Write("mig-" + name + "/" + version + "_step.up.sql", sql);
}

std::string ControllerWorld::Manifest(const std::string& name, const std::string& target,
                                      const std::string& policy_extra) const {
  std::ostringstream m;
  m << "apiVersion: olympus.io/v1alpha1\n"
    << "kind: SchemaUpgrade\n"
    << "metadata:\n"
    << "  name: " << name << "\n"
    << "  namespace: " << kNamespace << "\n"
    << "spec:\n"
    << "  targetVersion: \"" << target << "\"\n"
    << "  database:\n"
    << "    dsnFrom:\n"
    << "      env: " << Upper(name) << "_DSN\n"
    << "  migrations:\n"
    << "    engine: sql\n"
    << "    path: ../mig-" << name << "\n"
    << "  policy:\n"
    << "    backup:\n"
    << "      enabled: false\n"
    << "    lockWait: 20s\n"
    << policy_extra;
  return m.str();
}

std::string ControllerWorld::WriteManifestFile(const std::string& file, const std::string& content) {
  std::string path = manifests_ + "/" + file;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  EXPECT_TRUE(out.good()) << "cannot write " << path;
  return path;
}

std::string ControllerWorld::ReplaceManifestFile(const std::string& file, const std::string& content) {
  std::string tmp = manifests_ + "/." + file + ".tmp";
  std::string path = manifests_ + "/" + file;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  EXPECT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << "rename " << tmp << " -> " << path;
  return path;
}

BackgroundProcess* ControllerWorld::Start(const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv = {CliBinary(), "controller", "--manifests", manifests_, "--state-dir", state_};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  std::map<std::string, std::string> env = {{"SU_LOG_LEVEL", "info"}, {"SU_CRASH_AT", kUnsetEnv},
                                            {"SU_STATE_DIR", kUnsetEnv}};
  for (const auto& [name, dsn] : dsns_) env[Upper(name) + "_DSN"] = dsn;
  proc_ = std::make_unique<BackgroundProcess>();
  EXPECT_TRUE(proc_->Start(argv, env, dir_.Path("controller.log"))) << "cannot start " << CliBinary();
  return proc_.get();
}

std::optional<ProcessEnd> ControllerWorld::Terminate(std::chrono::seconds bound) {
  if (!proc_) return std::nullopt;
  proc_->Signal(SIGTERM);
  return proc_->Wait(bound);
}

std::optional<ResourceStatus> ControllerWorld::LoadStatus(const std::string& name) const {
  auto store = NewDirStatusStore(LocalFileSystem(), state_ + "/status");
  auto st = store->Load(std::string(kNamespace) + "/" + name);
  if (!st.ok() || !st->has_value()) return std::nullopt;
  return **st;
}

std::string ControllerWorld::Describe(const std::optional<ResourceStatus>& st) const {
  if (!st) return "no status";
  return std::string("phase ") + PhaseName(st->phase) + ", target " + st->target_version + ", attempts " +
         std::to_string(st->attempts) + ", message: " + st->message + ", lastError: " + st->last_error;
}

bool ControllerWorld::WaitFor(const std::string& name, const std::function<bool(const ResourceStatus&)>& pred,
                              std::string* why, std::chrono::seconds bound,
                              const std::function<void(const ResourceStatus&)>& on_seen) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    auto st = LoadStatus(name);
    if (st && on_seen) on_seen(*st);
    if (st && pred(*st)) return true;
    std::string reason;
    if (proc_ && proc_->Poll()) reason = "the controller ended (" + proc_->Poll()->Describe() + ")";
    if (reason.empty() && std::chrono::steady_clock::now() > deadline) {
      reason = "not within " + std::to_string(bound.count()) + " s";
    }
    if (!reason.empty()) {
      *why = name + ": " + reason + "; last status: " + Describe(st) + "\n--- log:\n" + (proc_ ? proc_->LogTail() : "");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ControllerWorld::WaitSucceeded(const std::string& name, const std::string& target, std::string* why) {
  return WaitFor(
      name, [&](const ResourceStatus& s) { return s.phase == Phase::kSucceeded && s.target_version == target; }, why);
}

std::string ControllerWorld::Log() const { return ReadAll(dir_.Path("controller.log")); }

bool ControllerWorld::WaitForLog(const std::string& needle, std::string* why, std::chrono::seconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (Log().find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || (proc_ && proc_->Poll())) {
      *why = "no \"" + needle + "\" in the controller's log\n--- log:\n" + (proc_ ? proc_->LogTail() : "");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string ControllerWorld::StatusFilesText() const {
  std::string all;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(state_, ec)) {
    if (e.is_regular_file()) all += ReadAll(e.path().string()) + "\n";
  }
  return all;
}

std::string ControllerWorld::StatusCliJson() const {
  auto r = RunCli({"status", "--all", "-o", "json", "--state-dir", state_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::string ControllerWorld::Sql1(const std::string& name, const std::string& sql) {
  auto db = ConnectPostgres(dsns_[name], "controller-test-checks");
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return "";
  auto r = (*db)->Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok() || r->rows.empty() || r->rows[0].empty()) return "";
  return r->Get(0, 0);
}

std::string ControllerWorld::HistoryCounts(const std::string& name) {
  return Sql1(name,
              "SELECT coalesce(string_agg(version || ':' || n, ',' ORDER BY version), '') FROM "
              "(SELECT version, count(*) AS n FROM schema_migration GROUP BY version) h");
}

int ControllerWorld::AdvisoryLocks(const std::string& name) {
  // Sessions of a process that just ended go away asynchronously: give them a bounded moment.
  std::string q = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                  "(SELECT oid FROM pg_database WHERE datname = current_database())";
  std::string n;
  for (int i = 0; i < 100; ++i) {
    n = Sql1(name, q);
    if (n == "0") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::atoi(n.c_str());
}

}  // namespace su::testing
