// ResourceStatus <-> JSON (status_json.cc, the only TU that includes cpprestsdk's json.h for
// status): the state files' format and the status the CLI prints. Kept out of api/ so the resource
// types stay free of cpprestsdk. Parse errors name what was wrong.
#pragma once

#include <string>

#include "api/status.h"

namespace su {

std::string StatusToJson(const ResourceStatus& s);
bool StatusFromJson(const std::string& json, ResourceStatus* out, std::string* error);

}  // namespace su
