// Backups with the PostgreSQL client tools: pg_dump -Fc before migrating (restore.h undoes).
// The DSN reaches the tools only through PG* environment variables (never argv, which any user
// can read in /proc).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reconcilers/base/process.h"
#include "reconcilers/base/result.h"

namespace su {

// Splits a DSN (URL or keyword form) into PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
// PGSSLMODE... for a child process's environment. Ory's pool options (max_conns...), which libpq
// rejects, are dropped first (LibpqDsn), so a Kratos/Hydra DSN can be dumped and restored as it is
// written. kInvalidArgument for an unparsable DSN (the message never contains the DSN).
Result<std::map<std::string, std::string>> DsnToPgEnv(const std::string& dsn);

// The path of a PostgreSQL client tool (pg_dump, pg_restore, psql): bin_dir/name, else
// $SU_PG_BINDIR/name, else name (found on PATH).
std::string PgTool(const std::string& bin_dir, const std::string& name);

struct BackupFile {
  std::string path;
  long long size_bytes = 0;
  // Older backups of the resource the tool removed itself (tools that prune where the caller
  // cannot; see BackupTool::RemoteFolder), as paths of the same form as `path`.
  std::vector<std::string> pruned;
};

// pg_dump -Fc of the whole database into path (written to a file of its own, path.XXXXXX.partial,
// renamed when complete, so a killed backup never looks finished and two dumps never share one).
Result<BackupFile> PgDump(ProcessRunner* runner, const std::string& dsn, const std::string& path,
                          const std::string& bin_dir = "");
// The restore is PgRestore in restore.h.

}  // namespace su
