// Throwaway PostgreSQL server (see pg_server.h).
#include "tests/support/pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "reconcilers/database/database.h"
#include "tests/support/free_port.h"

namespace su::testing {
namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "PgServer: %s\n", msg.c_str());
  std::abort();
}


struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  bool drop = false;
};

RunAs PostgresUser() {
  RunAs r;
  if (geteuid() != 0) return r;
  passwd* pw = getpwnam("postgres");
  if (!pw) Die("running as root but there is no 'postgres' user (apt-get install postgresql)");
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  r.drop = true;
  return r;
}

// Forks and execs argv as the postgres user. Returns the pid. Output goes to log_path.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path, bool die_with_parent) {
  RunAs as = PostgresUser();
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    setpgid(0, 0);
    if (as.drop) {
      if (setgid(as.gid) != 0 || setuid(as.uid) != 0) _exit(126);
    }
    if (die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGQUIT);
      if (getppid() != parent) _exit(1);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

std::string RandomToken(size_t n) {
  static const char* kChars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device rd;
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kChars[rd() % 56];
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string PgServer::BinDir() {
  const char* e = std::getenv("SU_PG_BINDIR");
  return e ? e : "/usr/lib/postgresql/15/bin";
}

PgServer::PgServer(std::vector<std::string> settings) : settings_(std::move(settings)) {
  char tmpl[] = "/tmp/su-pg-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  root_ = tmpl;
  data_dir_ = root_ + "/data";
  RunAs as = PostgresUser();
  if (as.drop && chown(root_.c_str(), as.uid, as.gid) != 0) Die("chown " + root_ + " failed");
  password_ = "pw-" + RandomToken(20);
  std::string pwfile = root_ + "/pwfile";
  {
    std::ofstream(pwfile) << password_ << "\n";
  }
  if (as.drop && chown(pwfile.c_str(), as.uid, as.gid) != 0) Die("chown pwfile failed");
  std::string log = root_ + "/initdb.log";
  pid_t ip = Spawn({BinDir() + "/initdb", "-D", data_dir_, "-U", "postgres", "--pwfile=" + pwfile,
                    "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                    "--no-sync"},
                   log, false);
  int st = 0;
  waitpid(ip, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) Die("initdb failed:\n" + ReadAll(log));
  port_ = FreeTcpPort();
  if (port_ == 0) Die("no free TCP port on 127.0.0.1");
  Launch();
}

void PgServer::Launch() {
  std::vector<std::string> argv = {BinDir() + "/postgres", "-D", data_dir_, "-p", std::to_string(port_), "-k", root_,
                                   "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                                   "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB"};
  for (const auto& s : settings_) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  pid_ = Spawn(argv, root_ + "/server.log", true);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto db = ConnectPostgres(Dsn(), "pg-server-probe", std::chrono::seconds(2));
    if (db.ok()) return;
    int wst = 0;
    if (waitpid(pid_, &wst, WNOHANG) == pid_) Die("postgres exited:\n" + ReadAll(root_ + "/server.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Die("postgres did not become ready:\n" + ReadAll(root_ + "/server.log"));
}

void PgServer::Shutdown() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown
  for (int i = 0; i < 300; ++i) {
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void PgServer::Pause() {
  if (pid_ <= 0) Die("Pause: the server is not running");
  Shutdown();
}

void PgServer::Resume() {
  if (pid_ > 0) Die("Resume: the server is already running");
  if (root_.empty()) Die("Resume: the server was stopped for good");
  Launch();
}

void PgServer::Stop() {
  Shutdown();
  if (!root_.empty() && std::getenv("SU_KEEP_PG") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    root_.clear();
  }
}

PgServer::~PgServer() { Stop(); }

PgServer& PgServer::Shared() {
  static PgServer* server = [] {
    auto* s = new PgServer();
    std::atexit([] { PgServer::Shared().Stop(); });
    return s;
  }();
  return *server;
}

std::string PgServer::Dsn(const std::string& db) const {
  return "postgresql://postgres:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PgServer::KeywordDsn(const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres password=" + password_ +
         " dbname=" + db;
}

std::string PgServer::CreateDatabase(const std::string& prefix) {
  std::string name = prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(++counter_);
  auto db = ConnectPostgres(Dsn(), "pg-server-admin");
  if (!db.ok()) Die("connect: " + db.status().ToString());
  auto st = (*db)->Exec("CREATE DATABASE " + QuoteIdent(name));
  if (!st.ok()) Die("create database: " + st.ToString());
  return Dsn(name);
}

std::string PgServer::DbNameOf(const std::string& dsn) { return dsn.substr(dsn.rfind('/') + 1); }

}  // namespace su::testing
