// JSON rendering of an offline plan (see offline_plan.h). cpprestsdk stays in this file.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include "reconcilers/offline/offline_plan.h"

namespace su {

std::string RenderOfflinePlanJson(const OfflinePlan& p) {
  using web::json::value;
  value o = value::parse(RenderPlanJson(p.plan));
  o["hash"] = value::string("");
  value off = value::object();
  off["from"] = value::string(p.comment.from_label);
  off["fromVersion"] = value::string(p.comment.from_version);
  value unknown = value::array(p.comment.offline_unknowns.size());
  for (size_t i = 0; i < p.comment.offline_unknowns.size(); ++i) unknown[i] = value::string(p.comment.offline_unknowns[i]);
  off["notKnown"] = unknown;
  off["migrationsKnown"] = value::boolean(p.migrations_known);
  off["migrationsUnknown"] = value::string(p.comment.migrations_unknown);
  o["offline"] = off;
  return o.serialize() + "\n";
}

}  // namespace su
