// PgServer: a throwaway PostgreSQL 15 server for tests. initdb into a temp dir, start `postgres`
// on a free 127.0.0.1 port (TCP, so containers on the host network reach it) and a private socket
// dir, stop it by PID (SIGINT, then SIGKILL) in the destructor, and delete the dir. If the test
// process dies, the server gets SIGQUIT (PR_SET_PDEATHSIG). Running as root, the server runs as
// the `postgres` user. The superuser password is random, so DSNs carry a real secret and tests
// can check that it never leaks.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace su::testing {

class PgServer {
 public:
  // Starts a server; aborts the test binary (with a message) when it cannot.
  PgServer() : PgServer(std::vector<std::string>{}) {}
  // With more server settings ("name=value", passed as -c), e.g. shared_preload_libraries.
  explicit PgServer(std::vector<std::string> settings);
  ~PgServer();
  PgServer(const PgServer&) = delete;

  // One server per test binary, started on first use, stopped at exit.
  static PgServer& Shared();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& password() const { return password_; }
  const std::string& data_dir() const { return data_dir_; }
  // The server's UNIX socket folder (`-k`), for containers that reach it through a mount.
  const std::string& socket_dir() const { return root_; }
  // URL DSN with the password, for database `db`.
  std::string Dsn(const std::string& db = "postgres") const;
  // Keyword DSN (host=... password=...), for database `db`.
  std::string KeywordDsn(const std::string& db = "postgres") const;
  // Creates a fresh empty database with a unique name and returns its DSN.
  std::string CreateDatabase(const std::string& prefix = "t");
  // Returns the name part of the last CreateDatabase call's DSN.
  static std::string DbNameOf(const std::string& dsn);
  // Directory of the PostgreSQL binaries (pg_dump, psql...).
  static std::string BinDir();
  // Stops the server for good and deletes its folder.
  void Stop();
  // An outage: stops the server (fast shutdown: sessions are terminated), keeping its data, port
  // and socket folder. Resume() starts it again on the same port and socket and returns once it
  // accepts connections. Use a PgServer of the test's own, not Shared(), to pause.
  void Pause();
  void Resume();

 private:
  void Launch();
  void Shutdown();
  std::vector<std::string> settings_;
  std::string root_;
  std::string data_dir_;
  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
  int counter_ = 0;
};

}  // namespace su::testing
