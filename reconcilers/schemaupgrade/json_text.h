// A string as a JSON value, for the translation units that include cpprestsdk's json.h anyway
// (plan_json.cc, status_json.cc): one definition, so that a unity build (`make demo`'s) that
// compiles both files as one sees one. Include it nowhere else: cpprestsdk stays out of the rest.
#pragma once

#include <cpprest/json.h>

#include <string>

#include "reconcilers/base/text_check.h"

namespace su::json_text {

// Valid UTF-8 always: a message may quote bytes of a bad input file, and the JSON must stay valid.
inline web::json::value Str(const std::string& s) { return web::json::value::string(ValidUtf8(s)); }

}  // namespace su::json_text
