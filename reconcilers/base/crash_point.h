// CrashPoint: fault injection for the crash-safety tests. When the environment variable
// SU_CRASH_AT names this point ("after-migrate") or its n-th hit ("statement#7"), the process
// kills itself with SIGKILL right there, as `kill -9` would. Unset (production), it costs one
// getenv per call. Points are listed in docs/crash-safety.md.
#pragma once

namespace su {

void CrashPoint(const char* name);

}  // namespace su
