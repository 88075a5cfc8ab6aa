// pg_dump / pg_restore wrappers (see backup.h).
#include "reconcilers/database/backup.h"

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/backup_files.h"
#include "reconcilers/database/database.h"

namespace su {

std::string PgTool(const std::string& bin_dir, const std::string& name) {
  if (!bin_dir.empty()) return bin_dir + "/" + name;
  const char* e = std::getenv("SU_PG_BINDIR");
  if (e && *e) return std::string(e) + "/" + name;
  return name;
}

Result<std::map<std::string, std::string>> DsnToPgEnv(const std::string& dsn) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> opts(PQconninfoParse(LibpqDsn(dsn).c_str(), &err),
                                                                        PQconninfoFree);
  if (!opts) {
    std::string msg = err ? Scrub(err) : "unparsable";
    if (err) PQfreemem(err);
    return Status::Invalid("the database DSN cannot be parsed: " + msg);
  }
  static const std::map<std::string, std::string> kEnv = {
      {"host", "PGHOST"}, {"hostaddr", "PGHOSTADDR"}, {"port", "PGPORT"}, {"user", "PGUSER"},
      {"password", "PGPASSWORD"}, {"dbname", "PGDATABASE"}, {"sslmode", "PGSSLMODE"},
      {"sslrootcert", "PGSSLROOTCERT"}, {"sslcert", "PGSSLCERT"}, {"sslkey", "PGSSLKEY"},
      {"options", "PGOPTIONS"}, {"connect_timeout", "PGCONNECT_TIMEOUT"}};
  std::map<std::string, std::string> env;
  for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    auto it = kEnv.find(o->keyword);
    if (it != kEnv.end()) env[it->second] = o->val;
  }
  return env;
}

Result<BackupFile> PgDump(ProcessRunner* runner, const std::string& dsn, const std::string& path,
                          const std::string& bin_dir) {
  SU_ASSIGN_OR_RETURN(auto env, DsnToPgEnv(dsn));
  // A name of its own (mkstemp), so two dumps into one folder never write one file. mkstemps
  // creates it 0600 whatever the umask, and pg_dump keeps that mode.
  std::string tmpl = path + ".XXXXXX.partial";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemps(name.data(), static_cast<int>(std::string(".partial").size()));
  if (fd < 0) return Status::Io(path + ": cannot create the backup file: " + std::strerror(errno));
  close(fd);
  std::string partial(name.data());
  ProcessSpec spec;
  spec.argv = {PgTool(bin_dir, "pg_dump"), "-Fc", "--no-password", "-f", partial};
  spec.env = env;
  auto r = runner->Run(spec);
  if (!r.ok()) {
    std::remove(partial.c_str());
    return r.status().WithContext("running pg_dump (install postgresql-client)");
  }
  if (!r->Succeeded()) {
    std::remove(partial.c_str());
    return Status::Failed("pg_dump failed (exit " + std::to_string(r->exit_code) + "): " + Scrub(r->Tail(10)) +
                          "; fix the cause or disable policy.backup to go on without a backup");
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    Status err = Status::Io(path + ": cannot rename the finished backup: " + std::strerror(errno));
    std::remove(partial.c_str());
    return err;
  }
  SU_RETURN_IF_ERROR(MakeFilePrivate(path));
  struct stat st{};
  stat(path.c_str(), &st);
  LogInfo("backup.done", {{"path", path}, {"bytes", std::to_string(st.st_size)}});
  return BackupFile{path, static_cast<long long>(st.st_size), {}};
}

}  // namespace su
