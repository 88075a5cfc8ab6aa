// The backup and restore Jobs of the Kubernetes mode run the controller's own image with the
// hidden subcommand `schema-upgrade backup-job dump|restore`, which calls PgDump / PgRestore
// (reconcilers/database/) inside the pod exactly as the Podman mode calls them on the host: the
// same pg_dump -Fc, the same one-transaction restore with its write check and sequence rules.
// The DSN comes from the environment variable kBackupDsnEnv (the Job sets it with valueFrom.
// secretKeyRef; it never appears in argv, the Job object or a log). The pod's last log line is
// the result as JSON after kBackupResultPrefix, which the controller reads back from the pod log.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

inline constexpr const char* kBackupDsnEnv = "SU_BACKUP_DSN";
inline constexpr const char* kBackupMountPath = "/backup";  // where the Job mounts the claim
inline constexpr const char* kBackupResultPrefix = "schema-upgrade-backup-job-result: ";

struct BackupJobResult {
  Code code = Code::kOk;
  std::string message;                // the error, scrubbed; "" when ok
  std::string file;                   // dump: the file written (the pod's path)
  long long size_bytes = 0;           // dump
  std::vector<std::string> pruned;    // dump with --retention: files removed (the pod's paths)
  bool restored = false;              // restore
  long long writes_since = -1;        // restore
  std::string writes_detail;          // restore
  bool audit_recorded = false;        // restore: the --audit-* row was inserted with the restore
};

// One line (no newline inside): kBackupResultPrefix + JSON.
std::string FormatBackupJobResult(const BackupJobResult& r);
// The last result line in a pod log; kNotFound when there is none (the pod did not get as far).
Result<BackupJobResult> ParseBackupJobResult(const std::string& log);

// `schema-upgrade backup-job dump --file F [--retention N --prefix P]` and
// `schema-upgrade backup-job restore --file F [--snapshot S] [--lock-timeout D] [--allow-data-loss]
// [--application-name A] [--audit-resource R --audit-version V --audit-name N --audit-detail D]`
// (--audit-*: the restore's audit row, inserted inside its transaction; its actor is the pod's
// user@host, so the arguments, and with them the Job's name, stay the same when a restarted
// controller adopts the Job): exit code as every command (0 ok, 1 failed, 2 bad input, 3 lock).
int CmdBackupJob(const std::vector<std::string>& args);

}  // namespace su
