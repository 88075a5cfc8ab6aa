// Text table of audit rows (see history_render.h).
#include "controller/cli/history_render.h"

#include <cstdio>

namespace su {

std::string RenderHistoryText(const std::vector<AuditEntry>& rows) {
  if (rows.empty()) return "no history yet (nothing was run by schema-upgrade against this database)\n";
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-6s %-20s %-20s %-22s %-28s %-14s %-11s %8s %7s\n", "ID", "STARTED", "RESOURCE",
                "VERSION", "NAME", "DIRECTION", "STATUS", "MS", "STMTS");
  out += buf;
  auto cut = [](const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 1) + "~"; };
  for (const auto& r : rows) {
    std::string stmts = std::to_string(r.statements_applied) + "/" + std::to_string(r.statements_total);
    std::snprintf(buf, sizeof buf, "%-6lld %-20s %-20s %-22s %-28s %-14s %-11s %8lld %7s\n", r.id, r.started_at.c_str(),
                  cut(r.resource, 20).c_str(), cut(r.version, 22).c_str(), cut(r.name, 28).c_str(),
                  r.direction.c_str(), r.status.c_str(), r.duration_ms, stmts.c_str());
    out += buf;
    if (!r.error.empty()) out += "       error: " + r.error + "\n";
    if (!r.failing_statement.empty()) out += "       statement: " + r.failing_statement + "\n";
    if (!r.detail.empty() && r.status != "succeeded") out += "       detail: " + r.detail + "\n";
  }
  return out;
}

}  // namespace su
