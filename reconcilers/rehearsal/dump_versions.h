// Version checks for a rehearsal copy made with pg_dump | pg_restore, run before the copy starts
// so that a mismatch is a clear error instead of pg_dump's "aborting because of server version
// mismatch" or a restore that fails half-way on syntax the target does not know:
//   - pg_dump must be at least the source server's major version (pg_dump refuses newer servers);
//   - the target server (policy.rehearseOn) must be at least the source's major version (a dump
//     restores into the same or a newer major version, not an older one).
#pragma once

#include <string>

#include "reconcilers/base/process.h"
#include "reconcilers/base/result.h"

namespace su {

// The major version of a server_version_num (150014 -> 15; 90624 -> 9).
int PgMajor(int server_version_num);

// The major version `<bin_dir>/<tool> --version` reports ("pg_dump (PostgreSQL) 15.14" -> 15).
// An error naming the tool when it cannot be run or its output has no version.
Result<int> PgToolMajor(ProcessRunner* runner, const std::string& bin_dir, const std::string& tool);

// Ok, or kInvalidArgument saying which side is too old and what to do. target_version_num 0:
// the copy goes on the source's own server (no target check).
Status CheckDumpVersions(int pg_dump_major, int source_version_num, int target_version_num);

}  // namespace su
