// NodeUtf8RoundTrip (see node_utf8.h): the WHATWG UTF-8 decoder's error handling.
#include "reconcilers/engines/drizzle/node_utf8.h"

namespace su {

std::string NodeUtf8RoundTrip(const std::string& bytes) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    unsigned char b = static_cast<unsigned char>(bytes[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    int need = 0;
    unsigned char lower = 0x80, upper = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lower = 0xA0;  // overlong
      if (b == 0xED) upper = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lower = 0x90;  // overlong
      if (b == 0xF4) upper = 0x8F;  // above U+10FFFF
    } else {
      out += kReplacement;  // stray continuation byte or an impossible lead byte
      ++i;
      continue;
    }
    // Consume continuation bytes while they fit; the first one that does not ends the
    // maximal subpart, is replaced as a whole, and is itself decoded afresh.
    size_t j = i + 1;
    int got = 0;
    while (got < need && j < n) {
      unsigned char c = static_cast<unsigned char>(bytes[j]);
      if (c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xBF;
      ++got;
      ++j;
    }
    if (got == need) {
      out.append(bytes, i, j - i);
    } else {
      out += kReplacement;
    }
    i = j;
  }
  return out;
}

}  // namespace su
