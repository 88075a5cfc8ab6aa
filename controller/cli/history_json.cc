// JSON rendering of audit rows with cpprestsdk (see history_render.h).
#include <cpprest/json.h>

#include "controller/cli/history_render.h"

namespace su {

std::string RenderHistoryJson(const std::vector<AuditEntry>& rows) {
  using web::json::value;
  value a = value::array(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    value o = value::object();
    o["id"] = value::number(static_cast<int64_t>(r.id));
    o["resource"] = value::string(r.resource);
    o["engine"] = value::string(r.engine);
    o["version"] = value::string(r.version);
    o["name"] = value::string(r.name);
    o["direction"] = value::string(r.direction);
    o["checksum"] = value::string(r.checksum);
    o["status"] = value::string(r.status);
    o["startedAt"] = value::string(r.started_at);
    o["finishedAt"] = value::string(r.finished_at);
    o["durationMs"] = value::number(static_cast<int64_t>(r.duration_ms));
    o["statementsApplied"] = value::number(r.statements_applied);
    o["statementsTotal"] = value::number(r.statements_total);
    o["error"] = value::string(r.error);
    o["failingStatement"] = value::string(r.failing_statement);
    o["actor"] = value::string(r.actor);
    o["detail"] = value::string(r.detail);
    a[i] = o;
  }
  return a.serialize() + "\n";
}

}  // namespace su
