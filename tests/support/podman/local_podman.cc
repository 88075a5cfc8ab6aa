// Test-only podman runner (see local_podman.h).
#include "tests/support/podman/local_podman.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace su::testing {
namespace {

std::string SourceDir() {
  const char* d = std::getenv("SU_SOURCE_DIR");
  return d ? d : ".";
}

}  // namespace

std::string TestContainersConf() {
  std::string shared = SourceDir() + "/tests/fixtures/podman/containers.conf";
  if (std::filesystem::exists(shared)) return shared;
  return SourceDir() + "/tests/fixtures/images/containers.conf";
}

Result<ProcessResult> LocalPodman::RunOnce(const ContainerRunSpec& spec) {
  ProcessSpec p;
  p.argv = {"podman", "run", "--rm", "--network", spec.network.empty() ? "host" : spec.network};
  for (const auto& [name, value] : spec.env) {
    p.argv.insert(p.argv.end(), {"--env", name});  // value via our environment, never argv
    p.env[name] = value;
  }
  if (!spec.entrypoint.empty()) p.argv.insert(p.argv.end(), {"--entrypoint", spec.entrypoint[0]});
  p.argv.push_back(spec.image);
  p.argv.insert(p.argv.end(), spec.args.begin(), spec.args.end());
  p.env["CONTAINERS_CONF"] = TestContainersConf();
  p.timeout = spec.timeout;
  p.on_output = spec.on_output;
  p.cancelled = spec.cancelled;
  return PosixProcessRunner()->Run(p);
}

Result<bool> LocalPodman::ImageExists(const std::string& image) {
  ProcessSpec p;
  p.argv = {"podman", "image", "exists", image};
  p.env["CONTAINERS_CONF"] = TestContainersConf();
  auto r = PosixProcessRunner()->Run(p);
  if (!r.ok()) return r.status();
  return r->exit_code == 0;
}

Status BuildFixtureImages() {
  ProcessSpec p;
  p.argv = {"bash", SourceDir() + "/tests/fixtures/images/build.sh"};
  p.env["CONTAINERS_CONF"] = TestContainersConf();
  auto r = PosixProcessRunner()->Run(p);
  if (!r.ok()) return r.status();
  if (!r->Succeeded()) return Status::Failed("build.sh failed:\n" + r->Tail(30));
  return Status::Ok();
}

Result<std::string> BuildControllerImage() {
  ProcessSpec p;
  p.argv = {"bash", SourceDir() + "/images/build-local.sh"};
  p.env["CONTAINERS_CONF"] = TestContainersConf();
  p.timeout = std::chrono::seconds(600);
  auto r = PosixProcessRunner()->Run(p);
  if (!r.ok()) return r.status();
  if (!r->Succeeded()) return Status::Failed("images/build-local.sh failed:\n" + r->Tail(30));
  std::string out = r->out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  auto nl = out.rfind('\n');
  std::string image = nl == std::string::npos ? out : out.substr(nl + 1);
  if (image.rfind("localhost/schema-upgrade:", 0) != 0) {
    return Status::Failed("images/build-local.sh printed no image reference:\n" + r->Tail(30));
  }
  return image;
}

}  // namespace su::testing
