// Base64 (RFC 4648, standard alphabet) decoding for kubeconfig `*-data` fields.
#pragma once

#include <string>

namespace su::kube {

// Decodes in (whitespace ignored, padding optional) into *out; false on a bad character.
bool Base64Decode(const std::string& in, std::string* out);
std::string Base64Encode(const std::string& in);

}  // namespace su::kube
