// Version checks for the dump-and-restore copy (see dump_versions.h).
#include "reconcilers/rehearsal/dump_versions.h"

#include <cctype>
#include <chrono>

#include "reconcilers/database/backup.h"

namespace su {

int PgMajor(int server_version_num) {
  // Since 10 the major is the first part (150014 -> 15); 9.x counts as 9 (90624 -> 9), enough to
  // compare with any supported release.
  return server_version_num / 10000;
}

Result<int> PgToolMajor(ProcessRunner* runner, const std::string& bin_dir, const std::string& tool) {
  ProcessSpec spec;
  spec.argv = {PgTool(bin_dir, tool), "--version"};
  spec.timeout = std::chrono::seconds(30);
  auto r = runner->Run(spec);
  if (!r.ok()) return r.status().WithContext("running " + tool + " --version");
  if (!r->Succeeded()) {
    return Status::Failed(tool + " --version failed (exit " + std::to_string(r->exit_code) + "): " + r->Tail(3) +
                          "; install the PostgreSQL client tools or set SU_PG_BINDIR to their folder");
  }
  // "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)": the first number after the ')'.
  const std::string& out = r->out;
  size_t i = out.find(')');
  i = i == std::string::npos ? 0 : i;
  while (i < out.size() && !std::isdigit(static_cast<unsigned char>(out[i]))) ++i;
  int major = 0;
  bool any = false;
  while (i < out.size() && std::isdigit(static_cast<unsigned char>(out[i]))) {
    major = major * 10 + (out[i++] - '0');
    any = true;
  }
  if (!any || major > 1000) {
    return Status::Failed(tool + " --version printed no version (\"" + out.substr(0, 80) + "\")");
  }
  return major;
}

Status CheckDumpVersions(int pg_dump_major, int source_version_num, int target_version_num) {
  const int source = PgMajor(source_version_num);
  if (pg_dump_major < source) {
    return Status::Invalid("pg_dump is version " + std::to_string(pg_dump_major) + " but the source server runs "
                           "PostgreSQL " + std::to_string(source) + ": pg_dump cannot dump a newer server; install "
                           "pg_dump " + std::to_string(source) + " or newer (SU_PG_BINDIR names its folder)");
  }
  if (target_version_num > 0 && PgMajor(target_version_num) < source) {
    return Status::Invalid("the rehearsal server runs PostgreSQL " + std::to_string(PgMajor(target_version_num)) +
                           ", older than the source's " + std::to_string(source) + ": a dump restores only into "
                           "the same or a newer major version; point policy.rehearseOn at a PostgreSQL " +
                           std::to_string(source) + " (or newer) server");
  }
  return Status::Ok();
}

}  // namespace su
