// Durations as written in manifests: "500ms", "5s", "30m", "2h", "1h30m". Zero is "0".
#pragma once

#include <chrono>
#include <string>

#include "reconcilers/base/result.h"

namespace su {

// The longest duration ParseDuration accepts (365 days): bounds every wait and timeout so that
// clock arithmetic never overflows.
inline constexpr std::chrono::milliseconds kMaxDuration{8760LL * 3600 * 1000};

// Parses a Go-style duration (units ms, s, m, h; combinable). kInvalidArgument names the text
// (cut at 64 characters); longer than kMaxDuration is an error.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text);
// Renders the shortest exact form, e.g. 90000ms -> "1m30s", 500ms -> "500ms".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace su
