// KubeEmulator (see kube_emulator.h).
#include "tests/support/kube/kube_emulator.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "kube/rest_client.h"
#include "reconcilers/base/process.h"

namespace su::testing {
namespace {

std::string SourceDir() {
  const char* s = getenv("SU_SOURCE_DIR");
  return s ? s : ".";
}

std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void KubeEmulator::Start() {
  proc_ = std::make_unique<BackgroundProcess>();
  std::vector<std::string> argv = {"/usr/bin/python3", SourceDir() + "/tests/emulator/kubeapi/kubeapi.py",
                                   "--dir", dir_.path(), "--port", std::to_string(port_)};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  std::string log = dir_.Path("kubeapi-" + std::to_string(++starts_) + ".log");
  ASSERT_TRUE(proc_->Start(argv, {}, log)) << "cannot start kubeapi.py";
  // The ready line is the condition; the deadline only bounds a broken start on a loaded machine.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = ReadFile(log);
    auto at = out.find("kubeapi ready port=");
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      port_ = atoi(out.c_str() + at + strlen("kubeapi ready port="));
      return;
    }
    if (auto end = proc_->Poll()) FAIL() << "kubeapi.py exited: " << end->Describe() << "\n" << proc_->LogTail();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "kubeapi.py printed no ready line in 90 s\n" << proc_->LogTail();
}

void KubeEmulator::Stop() {
  if (!proc_ || !proc_->running()) return;
  proc_->Signal(SIGTERM);
  auto end = proc_->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(end.has_value()) << "kubeapi.py did not stop on SIGTERM";
  proc_.reset();
}

std::unique_ptr<kube::KubeApi> KubeEmulator::Client(const std::string& kubeconfig) const {
  auto cfg = kube::LoadKubeconfig(Kubeconfig(kubeconfig));
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  if (!cfg.ok()) return nullptr;
  cfg->qps = 0;  // tests are not throttled (throttle_test.cc covers the bucket)
  auto c = kube::NewRestClient(*cfg);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

void KubeEmulator::Hook(const std::string& hook) const {
  // The hooks are not Kubernetes resources, so KubeApi has no call for them: kubectl's raw POST.
  Kubectl({"create", "--raw", "/emulator/" + hook, "-f", "/dev/null"});
}

std::string KubeEmulator::Kubectl(const std::vector<std::string>& args) const {
  ProcessSpec spec;
  spec.argv = {"kubectl", "--kubeconfig", Kubeconfig()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = std::chrono::seconds(120);
  auto r = PosixProcessRunner()->Run(spec);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << FormatArgv(spec.argv) << "\n" << r->Tail();
  return r->out;
}

void KubeEmulator::ApplyCrd() const {
  Kubectl({"apply", "-f", SourceDir() + "/crds/olympus.io_schemaupgrades.yaml"});
}

std::string SchemaUpgradeJson(const std::string& name, const std::string& target_version, const std::string& ns) {
  return R"({"apiVersion":"olympus.io/v1alpha1","kind":"SchemaUpgrade","metadata":{"name":")" + name +
         R"(","namespace":")" + ns + R"("},"spec":{"service":"app","targetVersion":")" + target_version +
         R"(","database":{"dsnFrom":{"env":"APP_DSN"}},"migrations":{"engine":"sql","path":"migrations"}}})";
}

}  // namespace su::testing
