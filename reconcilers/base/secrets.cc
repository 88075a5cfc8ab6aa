// Secret registry and scrubbing (see secrets.h).
#include "reconcilers/base/secrets.h"

#include <algorithm>
#include <mutex>
#include <strings.h>

#include <cstring>
#include <set>
#include <vector>

namespace su {
namespace {

std::mutex& SecretsMu() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& Secrets() {
  static std::set<std::string> s;
  return s;
}

// Spans of DSN passwords in text: URL form postgres[ql]://user:PASSWORD@ and keyword form
// password=VALUE / password = 'quoted \' value' (case-insensitive). Hand-written rather than
// std::regex: compiling those regexes cost more than the rest of a no-op run's CPU.
struct Span {
  size_t pos;
  size_t len;
  bool quoted;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<Span> PasswordSpans(const std::string& t) {
  std::vector<Span> out;
  for (size_t i = 0; i < t.size(); ++i) {
    // URL form.
    for (const char* scheme : {"postgresql://", "postgres://"}) {
      size_t n = std::strlen(scheme);
      if (t.compare(i, n, scheme) != 0) continue;
      size_t j = i + n;
      while (j < t.size() && t[j] != ':' && t[j] != '/' && t[j] != '@' && !IsSpace(t[j])) ++j;
      if (j < t.size() && t[j] == ':') {
        size_t k = j + 1;
        while (k < t.size() && t[k] != '@' && !IsSpace(t[k])) ++k;
        if (k < t.size() && t[k] == '@') out.push_back({j + 1, k - j - 1, false});
      }
      break;
    }
    // Keyword form.
    if (t.size() - i >= 8 && strncasecmp(t.c_str() + i, "password", 8) == 0) {
      size_t j = i + 8;
      while (j < t.size() && IsSpace(t[j])) ++j;
      if (j >= t.size() || t[j] != '=') continue;
      ++j;
      while (j < t.size() && IsSpace(t[j])) ++j;
      if (j < t.size() && t[j] == '\'') {
        size_t k = j + 1;
        while (k < t.size() && t[k] != '\'') k += (t[k] == '\\' && k + 1 < t.size()) ? 2 : 1;
        if (k < t.size()) out.push_back({j, k - j + 1, true});
      } else {
        size_t k = j;
        while (k < t.size() && !IsSpace(t[k]) && t[k] != '\'' && t[k] != '"') ++k;
        if (k > j) out.push_back({j, k - j, false});
      }
    }
  }
  return out;
}

}  // namespace

void RegisterSecret(const std::string& value) {
  if (value.size() < 3) return;
  std::lock_guard<std::mutex> l(SecretsMu());
  Secrets().insert(value);
}

void RegisterDsnSecrets(const std::string& dsn) {
  for (const Span& sp : PasswordSpans(dsn)) {
    RegisterSecret(sp.quoted ? dsn.substr(sp.pos + 1, sp.len - 2) : dsn.substr(sp.pos, sp.len));
  }
  // The whole DSN is a secret too: it may carry a password in a form we do not parse.
  RegisterSecret(dsn);
}

std::string RedactDsn(const std::string& dsn) {
  std::vector<Span> spans = PasswordSpans(dsn);
  if (spans.empty()) return dsn;
  std::string out;
  size_t at = 0;
  for (const Span& sp : spans) {
    if (sp.pos < at) continue;
    out.append(dsn, at, sp.pos - at);
    out += "***";
    at = sp.pos + sp.len;
  }
  out.append(dsn, at, std::string::npos);
  return out;
}

std::string Scrub(const std::string& text) {
  std::string out = text;
  {
    std::lock_guard<std::mutex> l(SecretsMu());
    // Longest first so a DSN is replaced before the password inside it.
    std::vector<std::string> v(Secrets().begin(), Secrets().end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& s : v) {
      for (size_t pos = out.find(s); pos != std::string::npos; pos = out.find(s, pos + 3)) {
        out.replace(pos, s.size(), "***");
      }
    }
  }
  return RedactDsn(out);
}

}  // namespace su
