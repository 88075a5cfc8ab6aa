// KubeEmulator: the API server emulator (tests/emulator/kubeapi/kubeapi.py) as a test fixture. Start()
// launches it on a fresh temp dir, waits for its ready line (a condition, never a sleep) and keeps the
// port; Restart() stops it with SIGTERM and starts it again on the same dir and port (with --persist
// its objects survive, as an API server restart). Post() calls its test hooks through our client.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kube/api.h"
#include "kube/config.h"
#include "tests/support/bg_process.h"
#include "tests/support/temp_dir.h"

namespace su::testing {

class KubeEmulator {
 public:
  explicit KubeEmulator(std::vector<std::string> extra_args = {}) : extra_(std::move(extra_args)) {}
  ~KubeEmulator() { Stop(); }

  // Starts (port 0 the first time, the same port afterwards). Fails the test when it does not serve.
  void Start();
  void Stop();
  void Restart() {
    Stop();
    Start();
  }
  const std::string& dir() const { return dir_.path(); }
  int port() const { return port_; }
  std::string Kubeconfig(const std::string& name = "kubeconfig") const { return dir_.Path(name); }
  // A client from DIR/<kubeconfig>.
  std::unique_ptr<kube::KubeApi> Client(const std::string& kubeconfig = "kubeconfig") const;
  // POST /emulator/<hook> (compact, close-watches, ...); fails the test on an error.
  void Hook(const std::string& hook) const;
  // kubectl --kubeconfig DIR/kubeconfig args...; returns stdout, fails the test on a non-zero exit.
  std::string Kubectl(const std::vector<std::string>& args) const;
  // Applies crds/olympus.io_schemaupgrades.yaml with kubectl.
  void ApplyCrd() const;

 private:
  std::vector<std::string> extra_;
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> proc_;
  int starts_ = 0;
};

// A valid SchemaUpgrade in namespace default as JSON.
std::string SchemaUpgradeJson(const std::string& name, const std::string& target_version,
                              const std::string& ns = "default");

}  // namespace su::testing
