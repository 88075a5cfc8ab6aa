// Scratch copies of a database (see scratch_database.h).
#include "reconcilers/rehearsal/scratch_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/database/restore.h"

namespace su {

std::string ScratchDatabaseName(const std::string& resource) {
  return std::string(kScratchDatabasePrefix) + Sha256Hex(resource).substr(0, 12);
}

const char* CopyMethodName(CopyMethod m) { return m == CopyMethod::kTemplate ? "template" : "dump-restore"; }

Result<std::string> DsnWithDatabase(const std::string& dsn, const std::string& dbname) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> opts(PQconninfoParse(LibpqDsn(dsn).c_str(), &err),
                                                                        PQconninfoFree);
  if (!opts) {
    std::string msg = err ? Scrub(err) : "unparsable";
    if (err) PQfreemem(err);
    return Status::Invalid("the database DSN cannot be parsed: " + msg);
  }
  auto quote = [](const std::string& v) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    return q + "'";
  };
  std::string out;
  for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val || std::string(o->keyword) == "dbname") continue;
    out += std::string(o->keyword) + "=" + quote(o->val) + " ";
  }
  return out + "dbname=" + quote(dbname);
}

namespace {

long long MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
}

// The source's database name as libpq resolves it (dbname, else the user name).
Result<std::string> SourceName(const std::string& dsn) {
  SU_ASSIGN_OR_RETURN(auto env, DsnToPgEnv(LibpqDsn(dsn)));
  if (!env["PGDATABASE"].empty()) return env["PGDATABASE"];
  if (!env["PGUSER"].empty()) return env["PGUSER"];
  return Status::Invalid("the database DSN names no database: a rehearsal needs to know which one to copy");
}

}  // namespace

Status DropLeftoverScratch(Database* admin, const std::string& name) {
  auto found = admin->Query("SELECT 1 FROM pg_database WHERE datname = $1", {name});
  if (!found.ok()) return found.status().WithContext("looking for a leftover rehearsal copy " + name);
  if (found->rows.empty()) return Status::Ok();
  LogInfo("rehearsal_leftover_dropped", {{"database", name}});
  Status s = admin->Exec("DROP DATABASE IF EXISTS " + QuoteIdent(name));
  if (!s.ok()) {
    return s.WithContext("dropping the rehearsal copy " + name +
                         " left by an earlier run (if another rehearsal of this resource is running, wait for it; "
                         "otherwise drop the database by hand)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create(const std::string& source_dsn,
                                                                 const ScratchOptions& options) {
  SU_ASSIGN_OR_RETURN(std::string source, SourceName(source_dsn));
  std::unique_ptr<ScratchDatabase> sd(new ScratchDatabase());
  sd->name_ = ScratchDatabaseName(options.resource);
  if (source == sd->name_ || source == options.maintenance_db) {
    return Status::Invalid("cannot rehearse on database " + source + ": it is the rehearsal's own scratch or maintenance database");
  }
  SU_ASSIGN_OR_RETURN(std::string admin_dsn, DsnWithDatabase(source_dsn, options.maintenance_db));
  SU_ASSIGN_OR_RETURN(sd->dsn_, DsnWithDatabase(source_dsn, sd->name_));
  auto admin = ConnectPostgres(admin_dsn, "schema-upgrade-rehearsal");
  if (!admin.ok()) {
    return admin.status().WithContext("connecting to the maintenance database " + options.maintenance_db +
                                      " to copy " + source + " for the rehearsal");
  }
  sd->admin_ = std::move(admin).value();
  SU_RETURN_IF_ERROR(DropLeftoverScratch(sd->admin_.get(), sd->name_));

  const auto t0 = std::chrono::steady_clock::now();
  bool copied = false;
  if (options.allow_template) {
    // TEMPLATE needs the source to itself; we only ever ask, never terminate anyone.
    auto others = sd->admin_->Query("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                                    {source});
    if (!others.ok()) return others.status().WithContext("counting sessions on " + source);
    const std::string n = others->Get(0, 0, "0");
    if (n != "0") {
      sd->template_skipped_ = n + " other session(s) on the source";
    } else {
      Status s = sd->admin_->Exec("CREATE DATABASE " + QuoteIdent(sd->name_) + " TEMPLATE " + QuoteIdent(source));
      if (s.ok()) {
        copied = true;
        sd->method_ = CopyMethod::kTemplate;
      } else if (s.sqlstate() == "55006") {
        sd->template_skipped_ = "a session connected to the source meanwhile";  // raced: dump instead
      } else {
        return s.WithContext("copying " + source + " with CREATE DATABASE ... TEMPLATE (the role needs CREATEDB)");
      }
    }
  } else {
    sd->template_skipped_ = "disabled";
  }
  if (!copied) {
    ProcessRunner* runner = options.runner ? options.runner : PosixProcessRunner();
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = !options.temp_dir.empty() ? options.temp_dir : (tmp && *tmp ? tmp : "/tmp");
    auto dump = PgDump(runner, source_dsn, dir + "/" + sd->name_ + ".dump", options.bin_dir);
    if (!dump.ok()) return dump.status().WithContext("dumping " + source + " for the rehearsal");
    struct Unlink {
      std::string path;
      ~Unlink() { ::unlink(path.c_str()); }
    } unlink_dump{dump->path};
    Status s = sd->admin_->Exec("CREATE DATABASE " + QuoteIdent(sd->name_) + " TEMPLATE template0");
    if (!s.ok()) return s.WithContext("creating the rehearsal database " + sd->name_ + " (the role needs CREATEDB)");
    sd->method_ = CopyMethod::kDumpRestore;
    auto restored = PgRestore(runner, sd->dsn_, dump->path, RestoreOptions{}, options.bin_dir);
    if (!restored.ok()) return restored.status().WithContext("restoring the dump of " + source + " into " + sd->name_);
  }
  sd->copy_ms_ = MsSince(t0);
  LogInfo("rehearsal_copy_made", {{"database", sd->name_}, {"source", source}, {"method", CopyMethodName(sd->method_)},
                                  {"ms", std::to_string(sd->copy_ms_)}});
  return sd;
}

Status ScratchDatabase::Drop() {
  if (dropped_ || !admin_) return Status::Ok();
  Status s = admin_->Exec("DROP DATABASE IF EXISTS " + QuoteIdent(name_));
  if (!s.ok()) return s.WithContext("dropping the rehearsal copy " + name_ + " (the next rehearsal drops it)");
  dropped_ = true;
  return Status::Ok();
}

ScratchDatabase::~ScratchDatabase() {
  Status s = Drop();
  if (!s.ok()) LogWarn("rehearsal_drop_failed", {{"database", name_}, {"error", s.message()}});
}

}  // namespace su
