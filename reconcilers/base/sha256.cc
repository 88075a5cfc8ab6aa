// SHA-256 via OpenSSL EVP (see sha256.h).
#include "reconcilers/base/sha256.h"

#include <openssl/evp.h>

namespace su {

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Fetch the implementation once: OpenSSL 3 looks EVP_sha256() up in its provider store on every
  // use, which costs more than hashing a small migration file.
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(data.data(), data.size(), md, &len, sha256 ? sha256 : EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

}  // namespace su
