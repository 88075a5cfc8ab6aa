// NUL and UTF-8 checks (see text_check.h).
#include "reconcilers/base/text_check.h"

#include <algorithm>
#include <cstdio>

namespace su {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when it is ill-formed
// (Unicode table 3-7).
size_t SequenceLength(const std::string& s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

int LineAt(const std::string& s, size_t offset) {
  return 1 + static_cast<int>(std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

}  // namespace

size_t FirstInvalidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t n = SequenceLength(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string::npos;
}

Status CheckMigrationText(const std::string& file, const std::string& text) {
  size_t nul = text.find('\0');
  size_t bad = FirstInvalidUtf8(text);
  if (nul == std::string::npos && bad == std::string::npos) return Status::Ok();
  auto where = [&](size_t off) {
    return file + ": byte offset " + std::to_string(off) + " (line " + std::to_string(LineAt(text, off)) + "): ";
  };
  if (nul != std::string::npos && (bad == std::string::npos || nul <= bad)) {
    return Status::Invalid(where(nul) +
                           "NUL byte in a migration file; PostgreSQL would receive only the text before it. "
                           "Nothing was applied; remove the NUL byte(s) (a binary or UTF-16 file?) and run again");
  }
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(text[bad]));
  return Status::Invalid(where(bad) + "invalid UTF-8 (byte " + hex +
                         "); migration files must be UTF-8. Nothing was applied; re-save the file as UTF-8 "
                         "(e.g. iconv -f latin1 -t utf-8) and run again");
}

std::string ValidUtf8(const std::string& s) {
  if (FirstInvalidUtf8(s) == std::string::npos) return s;
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    size_t n = SequenceLength(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace su
