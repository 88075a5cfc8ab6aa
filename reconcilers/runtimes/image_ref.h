// Image reference comparison: does the image a container runs match the declared one?
//
// Podman records the name it resolved, which is not always the name written in the compose file:
// `oryd/kratos:v1.2.0` built or imported locally shows as `localhost/oryd/kratos:v1.2.0`, pulled from
// Docker Hub as `docker.io/oryd/kratos:v1.2.0`, and `postgres` as `docker.io/library/postgres:latest`.
// The rule (SameImage):
//   1. Normalise both: add ":latest" when there is neither tag nor digest; "index.docker.io" is
//      "docker.io", and "docker.io/library/x" is "docker.io/x".
//   2. If both name a registry (first path component contains '.' or ':' or is "localhost"), they
//      must be equal: `localhost/x:1` and `quay.io/x:1` are different images.
//   3. If either is a short name (no registry), compare with the registry removed from the other:
//      podman resolved the short name through local storage or its search registries, and any of
//      those is what the declaration meant.
#pragma once

#include <string>

namespace su {

struct ImageRef {
  std::string registry;  // "" for a short name; "localhost", "quay.io", "host:5000", ...
  std::string path;      // "oryd/kratos"
  std::string tag;       // "v1.2.0" (":latest" implied when tag and digest are empty)
  std::string digest;    // "sha256:..."
};

ImageRef ParseImageRef(const std::string& ref);
// registry/path:tag@digest with the normalisations of rule 1.
std::string NormalizeImage(const std::string& ref);
bool SameImage(const std::string& declared, const std::string& observed);
// The tag of ref ("latest" when it has neither tag nor digest, "" when it has only a digest).
std::string ImageTag(const std::string& ref);

}  // namespace su
