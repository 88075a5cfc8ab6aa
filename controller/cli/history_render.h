// Renderings of audit-log rows for `schema-upgrade history`.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/database/audit_log.h"

namespace su {

std::string RenderHistoryText(const std::vector<AuditEntry>& rows);
std::string RenderHistoryJson(const std::vector<AuditEntry>& rows);  // history_json.cc (cpprestsdk)

}  // namespace su
