// Image reference parsing and the comparison rule documented in image_ref.h.
#include "reconcilers/runtimes/image_ref.h"

namespace su {

ImageRef ParseImageRef(const std::string& ref) {
  ImageRef r;
  std::string rest = ref;
  size_t at = rest.find('@');
  if (at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string first = rest.substr(0, slash);
    if (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost") {
      r.registry = first;
      rest = rest.substr(slash + 1);
    }
  }
  // A ':' after the last '/' starts the tag (a ':' before it was a registry port).
  size_t colon = rest.rfind(':');
  size_t last_slash = rest.rfind('/');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    r.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  r.path = rest;
  if (r.registry == "docker.io" || r.registry == "index.docker.io") {
    r.registry = "docker.io";
    if (r.path.rfind("library/", 0) == 0) r.path = r.path.substr(8);
  }
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

namespace {
std::string Join(const ImageRef& r, bool with_registry) {
  std::string s = (with_registry && !r.registry.empty()) ? r.registry + "/" : "";
  s += r.path;
  if (!r.tag.empty()) s += ":" + r.tag;
  if (!r.digest.empty()) s += "@" + r.digest;
  return s;
}
}  // namespace

std::string NormalizeImage(const std::string& ref) { return Join(ParseImageRef(ref), true); }

bool SameImage(const std::string& declared, const std::string& observed) {
  ImageRef a = ParseImageRef(declared), b = ParseImageRef(observed);
  bool both_qualified = !a.registry.empty() && !b.registry.empty();
  return Join(a, both_qualified) == Join(b, both_qualified);
}

std::string ImageTag(const std::string& ref) {
  ImageRef r = ParseImageRef(ref);
  return r.tag;
}

}  // namespace su
