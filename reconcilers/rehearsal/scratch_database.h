// ScratchDatabase: a throwaway copy of a database on the same server, for rehearsing migrations.
// The copy goes on the source's server, or on another server when options.server_dsn is set
// (policy.rehearseOn): then always by pg_dump | pg_restore, after checking that pg_dump and the
// target server are not older than the source (dump_versions.h).
// The copy is named su_rehearse_<12 hex of sha256(resource)>: derived from the resource (a rerun
// finds and drops a copy a killed run left) and under a prefix no user database is expected to
// use. The copy is made by CREATE DATABASE ... TEMPLATE when nobody else is connected to the
// source (checked in pg_stat_activity; other users' sessions are never terminated), else by
// pg_dump -Fc | pg_restore into an empty scratch database. Dropped by the destructor (or Drop()),
// through an admin session on the server's maintenance database, never on the source.
// DSNs and passwords never appear in errors.
#pragma once

#include <memory>
#include <string>

#include "reconcilers/base/process.h"
#include "reconcilers/base/result.h"
#include "reconcilers/database/database.h"

namespace su {

// "su_rehearse_" + 12 hex chars of sha256(resource).
std::string ScratchDatabaseName(const std::string& resource);
inline constexpr const char* kScratchDatabasePrefix = "su_rehearse_";

// The same connection with dbname replaced, as a keyword DSN (values quoted). kInvalidArgument
// when the DSN cannot be parsed (the message never quotes it).
Result<std::string> DsnWithDatabase(const std::string& dsn, const std::string& dbname);

// The DSN a migrator process (Kratos, Hydra) gets for database `dbname` on dsn's server, in dsn's
// own form: a postgres:// URL keeps its scheme, user, password, host, port and query options
// (Ory's max_conns included; a dbname= option is dropped) with the path replaced; a keyword DSN is
// DsnWithDatabase's. kInvalidArgument when it cannot be parsed (the message never quotes it).
Result<std::string> MigratorDsn(const std::string& dsn, const std::string& dbname);

enum class CopyMethod { kTemplate, kDumpRestore };
const char* CopyMethodName(CopyMethod m);

struct ScratchOptions {
  std::string resource;          // namespace/name: names the copy
  std::string maintenance_db = "postgres";  // where the admin session connects
  ProcessRunner* runner = nullptr;          // for pg_dump / pg_restore (default: PosixProcessRunner)
  std::string bin_dir;                      // of pg_dump / pg_restore / psql ("" = $SU_PG_BINDIR or PATH)
  std::string temp_dir;                     // for the dump file ("" = $TMPDIR or /tmp)
  bool allow_template = true;               // false: always dump and restore
  // Non-empty: make the copy on this server instead of the source's (policy.rehearseOn). Its
  // database (default postgres) is where the admin session connects; the role needs CREATEDB.
  std::string server_dsn;
};

class ScratchDatabase {
 public:
  // Drops a leftover copy of this resource (a killed run's), then copies the source.
  static Result<std::unique_ptr<ScratchDatabase>> Create(const std::string& source_dsn, const ScratchOptions& options);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& dsn() const { return dsn_; }  // keyword DSN of the copy (holds the password)
  CopyMethod method() const { return method_; }
  bool on_other_server() const { return on_other_server_; }
  // Why the TEMPLATE copy was not used ("" when it was), e.g. "2 other session(s) on the source".
  const std::string& template_skipped() const { return template_skipped_; }
  long long copy_ms() const { return copy_ms_; }
  // Drops the copy now (every session of ours on it must be closed). Idempotent.
  Status Drop();

 private:
  ScratchDatabase() = default;
  std::unique_ptr<Database> admin_;
  std::string name_, dsn_, template_skipped_;
  CopyMethod method_ = CopyMethod::kTemplate;
  long long copy_ms_ = 0;
  bool dropped_ = false;
  bool on_other_server_ = false;
};

// Drops the resource's scratch copy if one exists (a killed run's). Ok when there is none;
// an error when it exists and cannot be dropped (e.g. another rehearsal of the same resource is
// connected to it: it is not terminated).
Status DropLeftoverScratch(Database* admin, const std::string& name);

}  // namespace su
