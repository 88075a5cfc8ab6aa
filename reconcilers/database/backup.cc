// pg_dump / pg_restore wrappers (see backup.h).
#include "reconcilers/database/backup.h"

#include <libpq-fe.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"

namespace su {
namespace {

std::string Tool(const std::string& bin_dir, const std::string& name) {
  if (!bin_dir.empty()) return bin_dir + "/" + name;
  const char* e = std::getenv("SU_PG_BINDIR");
  if (e && *e) return std::string(e) + "/" + name;
  return name;
}

}  // namespace

Result<std::map<std::string, std::string>> DsnToPgEnv(const std::string& dsn) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> opts(PQconninfoParse(dsn.c_str(), &err),
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
  std::string partial = path + ".partial";
  ProcessSpec spec;
  spec.argv = {Tool(bin_dir, "pg_dump"), "-Fc", "--no-password", "-f", partial};
  spec.env = env;
  auto r = runner->Run(spec);
  if (!r.ok()) return r.status().WithContext("running pg_dump (install postgresql-client)");
  if (!r->Succeeded()) {
    std::remove(partial.c_str());
    return Status::Failed("pg_dump failed (exit " + std::to_string(r->exit_code) + "): " + Scrub(r->Tail(10)) +
                          "; fix the cause or disable policy.backup to go on without a backup");
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) return Status::Io(path + ": cannot rename the finished backup");
  struct stat st{};
  stat(path.c_str(), &st);
  LogInfo("backup.done", {{"path", path}, {"bytes", std::to_string(st.st_size)}});
  return BackupFile{path, static_cast<long long>(st.st_size)};
}

Status PgRestore(ProcessRunner* runner, const std::string& dsn, const std::string& path, const std::string& bin_dir) {
  SU_ASSIGN_OR_RETURN(auto env, DsnToPgEnv(dsn));
  ProcessSpec spec;
  spec.argv = {Tool(bin_dir, "pg_restore"), "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
               "--no-owner", "--no-password", "-d", env.count("PGDATABASE") ? env["PGDATABASE"] : "postgres", path};
  spec.env = env;
  auto r = runner->Run(spec);
  if (!r.ok()) return r.status().WithContext("running pg_restore");
  if (!r->Succeeded()) {
    return Status::Failed("pg_restore of " + path + " failed (exit " + std::to_string(r->exit_code) +
                          "), nothing was restored: " + Scrub(r->Tail(10)));
  }
  LogInfo("restore.done", {{"path", path}});
  return Status::Ok();
}

}  // namespace su
