// SHA-256 (OpenSSL): lowercase hex digests for migration checksums and plan hashes.
#pragma once

#include <string>

namespace su {

std::string Sha256Hex(const std::string& data);

}  // namespace su
