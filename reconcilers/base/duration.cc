// Duration parsing and rendering (see duration.h).
#include "reconcilers/base/duration.h"

#include <cctype>

namespace su {

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  if (text == "0") return std::chrono::milliseconds(0);
  auto bad = [&]() {
    return Status::Invalid("\"" + text + "\" is not a duration (expected e.g. 500ms, 5s, 30m, 2h, 1h30m)");
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
