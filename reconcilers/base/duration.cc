// Duration parsing and rendering (see duration.h).
#include "reconcilers/base/duration.h"

#include <cctype>

namespace su {

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  if (text == "0") return std::chrono::milliseconds(0);
  const std::string shown = text.size() > 64 ? text.substr(0, 64) + "..." : text;
  auto bad = [&]() {
    return Status::Invalid("\"" + shown + "\" is not a duration (expected e.g. 500ms, 5s, 30m, 2h, 1h30m)");
  };
  auto too_long = [&]() {
    return Status::Invalid("\"" + shown + "\" is longer than " + FormatDuration(kMaxDuration) +
                           " (365 days), the longest duration accepted; expected a shorter one");
  };
  if (text.empty()) return bad();
  long long total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad();
    long long n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1000000000LL) return bad();
      ++i;
    }
    std::string unit;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) unit += text[i++];
    if (unit == "ms") total += n;
    else if (unit == "s") total += n * 1000;
    else if (unit == "m") total += n * 60000;
    else if (unit == "h") total += n * 3600000;
    else return bad();
    // Each term is at most 1e9 h (3.6e15 ms), so checking after every term keeps total far from
    // overflowing however many terms follow.
    if (total > kMaxDuration.count()) return too_long();
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms % 1000 != 0 && ms < 1000) return std::to_string(ms) + "ms";
  long long h = ms / 3600000; ms %= 3600000;
  long long m = ms / 60000; ms %= 60000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (ms) out += (ms % 1000 == 0) ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
  return out;
}

}  // namespace su
