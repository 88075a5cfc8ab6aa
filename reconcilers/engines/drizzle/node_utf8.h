// Node's Buffer.toString('utf8') followed by re-encoding, as drizzle-orm does to a migration
// file before hashing and executing it. Valid UTF-8 comes back unchanged; each ill-formed
// sequence (maximal subpart, as the WHATWG decoder that Node uses defines it) becomes U+FFFD
// (EF BF BD). Matching this keeps our sha256 equal to drizzle's for any file bytes.
#pragma once

#include <string>

namespace su {

std::string NodeUtf8RoundTrip(const std::string& bytes);

}  // namespace su
