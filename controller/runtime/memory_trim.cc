// MemoryTrimmer (see memory_trim.h).
#include "controller/runtime/memory_trim.h"

#include <malloc.h>

namespace su {

bool MemoryTrimmer::MaybeTrim() {
  long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count();
  long long last = last_ms_.load(std::memory_order_relaxed);
  if (last != 0 && now - last < every_.count()) return false;
  if (!last_ms_.compare_exchange_strong(last, now)) return false;  // another thread trims
  malloc_trim(0);
  return true;
}

}  // namespace su
