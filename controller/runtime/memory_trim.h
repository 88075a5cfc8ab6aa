// MemoryTrimmer: gives the heap's free pages back to the system now and then. glibc keeps memory
// freed after a busy stretch (the start-up listing of 10,000 manifests, a resync of all of them)
// in its arenas; on a controller that then idles for hours that is resident memory for nothing
// (issue 10: 2.6 MB of 17.7 MB anonymous at 10,000 resources).
//
// Contract: MaybeTrim() calls malloc_trim(0) when at least `every` passed since the last trim
// (monotonic clock), else returns at once; thread-safe (one caller trims, the others skip).
#pragma once

#include <atomic>
#include <chrono>

namespace su {

class MemoryTrimmer {
 public:
  explicit MemoryTrimmer(std::chrono::milliseconds every = std::chrono::seconds(30)) : every_(every) {}
  // True when this call trimmed.
  bool MaybeTrim();

 private:
  const std::chrono::milliseconds every_;
  std::atomic<long long> last_ms_{0};  // steady_clock ms of the last trim; 0: never
};

}  // namespace su
