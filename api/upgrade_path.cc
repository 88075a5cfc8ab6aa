// Upgrade paths: version order and the releases an upgrade would skip (see upgrade_path.h).
#include "api/upgrade_path.h"

#include <algorithm>
#include <cctype>

namespace su {
namespace {

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Compares two runs of the same kind: digits as numbers (leading zeros ignored), else as strings.
int CompareRun(const std::string& a, const std::string& b, bool digits) {
  if (digits) {
    std::string x = a.substr(std::min(a.find_first_not_of('0'), a.size()));
    std::string y = b.substr(std::min(b.find_first_not_of('0'), b.size()));
    if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    return x.compare(y) < 0 ? -1 : x.compare(y) > 0 ? 1 : 0;
  }
  return a.compare(b) < 0 ? -1 : a.compare(b) > 0 ? 1 : 0;
}

std::vector<std::string> Runs(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t j = i;
    const bool d = IsDigit(s[i]);
    while (j < s.size() && IsDigit(s[j]) == d) ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

int CompareRuns(const std::string& a, const std::string& b) {
  auto ra = Runs(a), rb = Runs(b);
  for (size_t i = 0; i < ra.size() && i < rb.size(); ++i) {
    const bool da = IsDigit(ra[i][0]), db = IsDigit(rb[i][0]);
    if (da != db) return da ? 1 : -1;  // a number beats text at the same place
    if (int c = CompareRun(ra[i], rb[i], da); c != 0) return c;
  }
  return ra.size() == rb.size() ? 0 : ra.size() < rb.size() ? -1 : 1;
}

}  // namespace

int CompareReleaseVersions(const std::string& a, const std::string& b) {
  auto strip = [](const std::string& s) {
    return s.size() > 1 && (s[0] == 'v' || s[0] == 'V') && IsDigit(s[1]) ? s.substr(1) : s;
  };
  std::string x = strip(a), y = strip(b);
  // Build metadata (+...) does not order; a pre-release (-...) comes before its release.
  x = x.substr(0, x.find('+'));
  y = y.substr(0, y.find('+'));
  size_t dx = x.find('-'), dy = y.find('-');
  std::string cx = x.substr(0, dx), cy = y.substr(0, dy);
  if (int c = CompareRuns(cx, cy); c != 0) return c;
  const bool px = dx != std::string::npos, py = dy != std::string::npos;
  if (px != py) return px ? -1 : 1;
  if (!px) return 0;
  return CompareRuns(x.substr(dx + 1), y.substr(dy + 1));
}

std::vector<UpgradePathEntry> KnownUpgradePath(const std::string& /*engine*/, const std::string& /*repository*/) {
  // No entries: add one only with the vendor's statement of a required intermediate release
  // (a link in the comment), e.g. {"ory", "oryd/kratos", {{"vX.Y.Z", ""}}}.
  return {};
}

std::vector<UpgradePathEntry> UpgradePathFor(const SchemaUpgrade& su, const std::string& repository) {
  std::vector<UpgradePathEntry> path = su.upgrade_path;
  for (auto& known : KnownUpgradePath(su.migrations.engine, repository)) {
    bool listed = false;
    for (const auto& e : path) listed |= CompareReleaseVersions(e.version, known.version) == 0;
    if (!listed) path.push_back(std::move(known));
  }
  std::stable_sort(path.begin(), path.end(), [](const UpgradePathEntry& a, const UpgradePathEntry& b) {
    return CompareReleaseVersions(a.version, b.version) < 0;
  });
  return path;
}

std::vector<UpgradePathEntry> SkippedReleases(const std::vector<UpgradePathEntry>& path, const std::string& running,
                                              const std::string& target) {
  std::vector<UpgradePathEntry> out;
  // A running tag that is no release ("latest", a branch name) cannot be placed on the path.
  const std::string r = running.size() > 1 && (running[0] == 'v' || running[0] == 'V') ? running.substr(1) : running;
  if (r.empty() || !IsDigit(r[0]) || CompareReleaseVersions(running, target) >= 0) return out;
  for (const auto& e : path) {
    if (CompareReleaseVersions(running, e.version) < 0 && CompareReleaseVersions(e.version, target) < 0) {
      out.push_back(e);
    }
  }
  return out;
}

std::string DescribePath(const std::string& running, const std::vector<UpgradePathEntry>& skipped,
                         const std::string& target) {
  std::string s = running;
  for (const auto& e : skipped) s += " -> " + e.version;
  return s + " -> " + target;
}

}  // namespace su
