// ResourcePath URL and description (see api.h).
#include <cstdio>

#include "kube/api.h"

namespace su::kube {

std::string PercentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}

std::string ResourcePath::Url() const {
  std::string u = gvr.group.empty() ? "/api/" + gvr.version : "/apis/" + gvr.group + "/" + gvr.version;
  if (gvr.namespaced && !ns.empty()) u += "/namespaces/" + PercentEncode(ns);
  u += "/" + gvr.resource;
  if (!name.empty()) u += "/" + PercentEncode(name);
  if (!subresource.empty()) u += "/" + subresource;
  return u;
}

std::string ResourcePath::Describe() const {
  std::string r = gvr.resource + (gvr.group.empty() ? "" : "." + gvr.group);
  if (!subresource.empty()) r += "/" + subresource;
  if (!name.empty()) r += " \"" + name + "\"";
  if (gvr.namespaced) r += ns.empty() ? " in all namespaces" : " in namespace " + ns;
  return r;
}

}  // namespace su::kube
