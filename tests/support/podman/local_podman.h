// LocalPodman: a minimal test-only ContainerRuntime (`podman run --rm`, env by name only) so the ory
// integration test does not depend on the real PodmanContainerRuntime's progress. Also builds the
// fixture images with tests/fixtures/images/build.sh (idempotent), and the controller's own image with
// images/build-local.sh.
#pragma once

#include <string>

#include "reconcilers/runtimes/runtime.h"

namespace su::testing {

class LocalPodman : public ContainerRuntime {
 public:
  Result<ProcessResult> RunOnce(const ContainerRunSpec& spec) override;
  Result<bool> ImageExists(const std::string& image) override;
};

// CONTAINERS_CONF for tests: tests/fixtures/podman/containers.conf, else the images folder's copy.
std::string TestContainersConf();

// Runs build.sh; fails with its output when it fails.
Status BuildFixtureImages();

// Builds (or finds up to date) the controller image from $SU_BINARY with images/build-local.sh and
// returns its reference, localhost/schema-upgrade:<version>. Idempotent and serialised by the
// script's flock, so tests may call it from every SetUp.
Result<std::string> BuildControllerImage();

}  // namespace su::testing
