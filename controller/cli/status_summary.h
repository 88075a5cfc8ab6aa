// The per-resource summary of `kubectl schema-upgrade status` (like `kubectl cnpg status`): phase
// and readiness, current and target version, image, the last step, the next retry, blocked
// sessions, one labelled line each. Pure; the caller scrubs secrets.
#pragma once

#include <string>

#include "api/status.h"

namespace su {

std::string RenderStatusSummary(const ResourceStatus& status);

}  // namespace su
