// Scratch copies of a database (see scratch_database.h).
#include "reconcilers/rehearsal/scratch_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/database/restore.h"
#include "reconcilers/rehearsal/dump_versions.h"

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

Result<std::string> MigratorDsn(const std::string& dsn, const std::string& dbname) {
  size_t scheme = dsn.find("://");
  if (scheme == std::string::npos) return DsnWithDatabase(dsn, dbname);
  const std::string head = dsn.substr(0, scheme);
  if (head != "postgres" && head != "postgresql") {
    return Status::Invalid("the database DSN cannot be parsed: expected a postgres:// or postgresql:// URL");
  }
  std::string rest = dsn.substr(scheme + 3), query;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  // The path starts at the first '/' after the user info (a password may hold '/' only encoded,
  // but look past the last '@' anyway).
  size_t at = rest.rfind('@');
  size_t slash = rest.find('/', at == std::string::npos ? 0 : at + 1);
  std::string authority = rest.substr(0, slash);
  std::string kept;
  size_t pos = 0;
  while (!query.empty() && pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!kv.empty() && kv.rfind("dbname=", 0) != 0) kept += (kept.empty() ? "" : "&") + kv;
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  std::string path;
  for (unsigned char c : dbname) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      path += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      path += b;
    }
  }
  return head + "://" + authority + "/" + path + (kept.empty() ? "" : "?" + kept);
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

// SHOW server_version_num on a session.
Result<int> ServerVersionNum(Database* db) {
  auto r = db->Query("SHOW server_version_num");
  if (!r.ok()) return r.status();
  return std::atoi(r->Get(0, 0, "0").c_str());
}

// The database the admin session uses on the rehearsal server: the DSN's, else postgres.
Result<std::string> ServerMaintenanceDb(const std::string& server_dsn) {
  auto env = DsnToPgEnv(LibpqDsn(server_dsn));
  if (!env.ok()) return env.status().WithContext("policy.rehearseOn");
  return (*env)["PGDATABASE"].empty() ? std::string("postgres") : (*env)["PGDATABASE"];
}

// Before a dump: pg_dump not older than the source, the target server not older than the source.
Status CheckVersions(const std::string& source_dsn, const std::string& source, Database* target, bool other_server,
                     ProcessRunner* runner, const std::string& bin_dir) {
  int source_num = 0;
  {
    auto src = ConnectPostgres(source_dsn, "schema-upgrade-rehearsal");
    if (!src.ok()) return src.status().WithContext("connecting to " + source + " to read its server version");
    auto v = ServerVersionNum(src->get());
    if (!v.ok()) return v.status().WithContext("reading the server version of " + source);
    source_num = *v;
  }
  int target_num = 0;
  if (other_server) {
    auto v = ServerVersionNum(target);
    if (!v.ok()) return v.status().WithContext("reading the rehearsal server's version");
    target_num = *v;
  }
  auto dump_major = PgToolMajor(runner, bin_dir, "pg_dump");
  if (!dump_major.ok()) return dump_major.status();
  return CheckDumpVersions(*dump_major, source_num, target_num);
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
  sd->on_other_server_ = !options.server_dsn.empty();
  const std::string& server = sd->on_other_server_ ? options.server_dsn : source_dsn;
  std::string maintenance = options.maintenance_db;
  if (sd->on_other_server_) {
    SU_ASSIGN_OR_RETURN(maintenance, ServerMaintenanceDb(server));
  }
  if (source == sd->name_ || (!sd->on_other_server_ && source == maintenance)) {
    return Status::Invalid("cannot rehearse on database " + source + ": it is the rehearsal's own scratch or maintenance database");
  }
  SU_ASSIGN_OR_RETURN(std::string admin_dsn, DsnWithDatabase(server, maintenance));
  SU_ASSIGN_OR_RETURN(sd->dsn_, DsnWithDatabase(server, sd->name_));
  auto admin = ConnectPostgres(admin_dsn, "schema-upgrade-rehearsal");
  if (!admin.ok()) {
    if (sd->on_other_server_) {
      return admin.status().WithContext("connecting to the rehearsal server (policy.rehearseOn, database " +
                                        maintenance + ") to copy " + source);
    }
    return admin.status().WithContext("connecting to the maintenance database " + options.maintenance_db +
                                      " to copy " + source + " for the rehearsal");
  }
  sd->admin_ = std::move(admin).value();
  SU_RETURN_IF_ERROR(DropLeftoverScratch(sd->admin_.get(), sd->name_));

  const auto t0 = std::chrono::steady_clock::now();
  bool copied = false;
  if (sd->on_other_server_) {
    sd->template_skipped_ = "the copy is on the rehearsal server (policy.rehearseOn), not the source's";
  } else if (options.allow_template) {
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
    SU_RETURN_IF_ERROR(CheckVersions(source_dsn, source, sd->admin_.get(), sd->on_other_server_, runner, options.bin_dir)
                           .WithContext("copying " + source + " for the rehearsal"));
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
                                  {"server", sd->on_other_server_ ? "rehearseOn" : "source"},
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
