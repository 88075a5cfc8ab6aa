// The hidden `backup-job` subcommand and its result line (see backup_job.h).
#include "controller/cli/backup_job.h"

#include <cpprest/json.h>

#include <cstdio>
#include <cstdlib>

#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/database/backup_files.h"
#include "reconcilers/database/restore.h"

namespace su {
namespace {

using web::json::value;

std::string Dir(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

Code CodeFromName(const std::string& name) {
  for (int c = static_cast<int>(Code::kOk); c <= static_cast<int>(Code::kConflict); ++c) {
    if (name == CodeName(static_cast<Code>(c))) return static_cast<Code>(c);
  }
  return Code::kFailed;
}

int Finish(const BackupJobResult& r) {
  std::printf("%s\n", FormatBackupJobResult(r).c_str());
  std::fflush(stdout);
  return r.code == Code::kOk ? 0 : ExitCodeFor(Status::Error(r.code, r.message));
}

BackupJobResult FromStatus(const Status& s) {
  BackupJobResult r;
  r.code = s.code();
  r.message = Scrub(s.message());
  return r;
}

}  // namespace

std::string FormatBackupJobResult(const BackupJobResult& r) {
  value v = value::object();
  v["code"] = value::string(CodeName(r.code));
  if (!r.message.empty()) v["message"] = value::string(r.message);
  if (!r.file.empty()) {
    v["file"] = value::string(r.file);
    v["sizeBytes"] = value::number(static_cast<int64_t>(r.size_bytes));
  }
  if (!r.pruned.empty()) {
    value p = value::array();
    for (size_t i = 0; i < r.pruned.size(); ++i) p[i] = value::string(r.pruned[i]);
    v["pruned"] = p;
  }
  v["restored"] = value::boolean(r.restored);
  v["writesSince"] = value::number(static_cast<int64_t>(r.writes_since));
  if (!r.writes_detail.empty()) v["writesDetail"] = value::string(r.writes_detail);
  if (r.audit_recorded) v["auditRecorded"] = value::boolean(true);
  return std::string(kBackupResultPrefix) + v.serialize();  // serialize escapes newlines
}

Result<BackupJobResult> ParseBackupJobResult(const std::string& log) {
  const std::string prefix = kBackupResultPrefix;
  size_t at = log.rfind(prefix);
  while (at != std::string::npos && at != 0 && log[at - 1] != '\n') {
    at = at == 0 ? std::string::npos : log.rfind(prefix, at - 1);
  }
  if (at == std::string::npos) return Status::Error(Code::kNotFound, "no result line in the Job's log");
  size_t end = log.find('\n', at);
  std::string text = log.substr(at + prefix.size(), end == std::string::npos ? std::string::npos : end - at - prefix.size());
  value v;
  try {
    v = value::parse(text);
  } catch (const std::exception&) {
    return Status::Failed("the Job's result line is not JSON");
  }
  if (!v.is_object()) return Status::Failed("the Job's result line is not a JSON object");
  BackupJobResult r;
  auto str = [&](const char* k) { return v.has_field(k) && v.at(k).is_string() ? v.at(k).as_string() : std::string(); };
  auto num = [&](const char* k, long long d) {
    return v.has_field(k) && v.at(k).is_number() ? static_cast<long long>(v.at(k).as_number().to_int64()) : d;
  };
  r.code = CodeFromName(str("code"));
  r.message = str("message");
  r.file = str("file");
  r.size_bytes = num("sizeBytes", 0);
  if (v.has_field("pruned") && v.at("pruned").is_array()) {
    for (const auto& p : v.at("pruned").as_array()) {
      if (p.is_string()) r.pruned.push_back(p.as_string());
    }
  }
  r.restored = v.has_field("restored") && v.at("restored").is_boolean() && v.at("restored").as_bool();
  r.writes_since = num("writesSince", -1);
  r.writes_detail = str("writesDetail");
  r.audit_recorded = v.has_field("auditRecorded") && v.at("auditRecorded").is_boolean() &&
                     v.at("auditRecorded").as_bool();
  return r;
}

int CmdBackupJob(const std::vector<std::string>& args) {
  const std::vector<FlagSpec> specs = {
      {"file", 0, true, false, "the dump file (inside the mounted claim)"},
      {"retention", 0, true, false, "dump: keep this resource's newest N backups in the file's folder"},
      {"prefix", 0, true, false, "dump: the resource's backup file prefix (with --retention)"},
      {"snapshot", 0, true, false, "restore: pg_current_snapshot() taken before the dump"},
      {"lock-timeout", 0, true, false, "restore: per lock (default 0: wait)"},
      {"allow-data-loss", 0, false, false, "restore: restore over rows written since the backup"},
      {"application-name", 0, true, false, "restore: the restoring session's application_name"},
      {"audit-resource", 0, true, false, "restore: write the restore's audit row for this resource, in its transaction"},
      {"audit-version", 0, true, false, "restore: the audit row's version"},
      {"audit-name", 0, true, false, "restore: the audit row's name"},
      {"audit-detail", 0, true, false, "restore: the audit row's detail"}};
  const std::string what = args.empty() ? "" : args[0];
  if (what != "dump" && what != "restore") {
    std::fprintf(stderr, "usage: schema-upgrade backup-job dump|restore --file F [flags]\n"
                         "(run by the controller's backup and restore Jobs; the DSN comes from $%s)\n%s",
                 kBackupDsnEnv, FlagsHelp(specs).c_str());
    return 2;
  }
  auto flags = Flags::Parse("backup-job", std::vector<std::string>(args.begin() + 1, args.end()), specs);
  if (!flags.ok()) return Finish(FromStatus(flags.status()));
  const std::string file = flags->Get("file");
  if (file.empty() || file.front() != '/') return Finish(FromStatus(Status::Invalid("--file must be an absolute path")));
  const char* dsn = std::getenv(kBackupDsnEnv);
  if (!dsn || !*dsn) {
    return Finish(FromStatus(Status::Invalid(std::string("$") + kBackupDsnEnv +
                                             " is not set; the Job takes it from the Secret of spec.database.dsnFrom")));
  }
  RegisterDsnSecrets(dsn);  // whatever an error quotes, the password never reaches the log
  if (what == "dump") {
    long long keep = 0;
    if (flags->Has("retention")) {
      keep = std::atoll(flags->Get("retention").c_str());
      if (keep < 1 || !flags->Has("prefix")) {
        return Finish(FromStatus(Status::Invalid("--retention needs a number of 1 or more and --prefix")));
      }
    }
    // A dump is the whole database: the folder 0700, the file 0600 (as in the Podman mode).
    if (Status mk = LocalFileSystem()->MakePrivateDirs(Dir(file)); !mk.ok()) return Finish(FromStatus(mk));
    auto b = PgDump(PosixProcessRunner(), dsn, file);
    if (!b.ok()) return Finish(FromStatus(b.status()));
    BackupJobResult r;
    r.file = b->path;
    r.size_bytes = b->size_bytes;
    if (keep > 0) {
      auto removed = PruneBackups(LocalFileSystem(), Dir(file), flags->Get("prefix"), static_cast<int>(keep), b->path);
      // Never a reason to fail the backup: the new dump is safe, the folder just keeps more.
      if (removed.ok()) {
        r.pruned = *removed;
      } else {
        std::fprintf(stderr, "old backups could not be removed: %s\n", Scrub(removed.status().ToString()).c_str());
      }
    }
    return Finish(r);
  }
  RestoreOptions opt;
  if (flags->Has("lock-timeout")) {
    auto d = ParseDuration(flags->Get("lock-timeout"));
    if (!d.ok()) return Finish(FromStatus(d.status().WithContext("--lock-timeout")));
    opt.lock_timeout = *d;
  }
  opt.backup_snapshot = flags->Get("snapshot");
  opt.allow_data_loss = flags->Has("allow-data-loss");
  opt.application_name = flags->Get("application-name");
  if (flags->Has("audit-resource")) {
    opt.audit_row = AuditEntry{};
    opt.audit_row->resource = flags->Get("audit-resource");
    opt.audit_row->engine = "controller";
    opt.audit_row->version = flags->Get("audit-version");
    opt.audit_row->name = flags->Get("audit-name");
    opt.audit_row->direction = "restore";
    opt.audit_row->detail = flags->Get("audit-detail");
  }
  auto rr = PgRestore(PosixProcessRunner(), dsn, file, opt);
  if (!rr.ok()) return Finish(FromStatus(rr.status()));
  BackupJobResult r;
  r.restored = rr->restored;
  r.writes_since = rr->writes_since;
  r.writes_detail = rr->writes_detail;
  r.audit_recorded = rr->audit_recorded;
  return Finish(r);
}

}  // namespace su
