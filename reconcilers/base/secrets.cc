// Secret registry and scrubbing (see secrets.h).
#include "reconcilers/base/secrets.h"

#include <algorithm>
#include <mutex>
#include <regex>
#include <set>
#include <vector>

namespace su {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& Secrets() {
  static std::set<std::string> s;
  return s;
}

// postgres://user:PASSWORD@host  and  password=PASSWORD / password='PASS WORD'
const std::regex& UrlPassword() {
  static const std::regex re(R"(((?:postgres|postgresql)://[^:/@\s]*:)([^@\s]*)@)");
  return re;
}
const std::regex& KeywordPassword() {
  static const std::regex re(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+))", std::regex::icase);
  return re;
}

}  // namespace

void RegisterSecret(const std::string& value) {
  if (value.size() < 3) return;
  std::lock_guard<std::mutex> l(Mu());
  Secrets().insert(value);
}

void RegisterDsnSecrets(const std::string& dsn) {
  std::smatch m;
  if (std::regex_search(dsn, m, UrlPassword())) RegisterSecret(m[2].str());
  std::string::const_iterator it = dsn.cbegin();
  while (std::regex_search(it, dsn.cend(), m, KeywordPassword())) {
    std::string v = m[2].str();
    if (v.size() >= 2 && v.front() == '\'') v = v.substr(1, v.size() - 2);
    RegisterSecret(v);
    it = m[0].second;
  }
  // The whole DSN is a secret too: it may carry a password in a form we do not parse.
  RegisterSecret(dsn);
}

std::string RedactDsn(const std::string& dsn) {
  std::string out = std::regex_replace(dsn, UrlPassword(), "$1***@");
  return std::regex_replace(out, KeywordPassword(), "$1***");
}

std::string Scrub(const std::string& text) {
  std::string out = text;
  {
    std::lock_guard<std::mutex> l(Mu());
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
