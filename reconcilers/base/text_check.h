// Text checks for files that are sent to PostgreSQL or written into JSON: migration files must be
// NUL-free UTF-8 (libpq stops a query at the first NUL byte, so a NUL would silently cut a
// migration short; PostgreSQL refuses ill-formed UTF-8 mid-run), and every string that goes into
// status JSON, audit rows or messages is made valid UTF-8 first.
#pragma once

#include <cstddef>
#include <string>

#include "reconcilers/base/result.h"

namespace su {

// Byte offset of the first ill-formed UTF-8 sequence (overlong forms, surrogates, code points
// above U+10FFFF and truncated sequences count as ill-formed), or std::string::npos.
size_t FirstInvalidUtf8(const std::string& s);

// kInvalidArgument "<file>: byte offset N (line L): <what>; <what to do>" when text holds a NUL
// byte or is not valid UTF-8; Ok otherwise. `what` names the kind of file in the hint.
Status CheckMigrationText(const std::string& file, const std::string& text);

// s with every ill-formed UTF-8 sequence replaced by U+FFFD: safe for JSON and text columns.
// Valid UTF-8 comes back unchanged.
std::string ValidUtf8(const std::string& s);

}  // namespace su
