// `kubectl schema-upgrade status` with the real kubectl: the build installs schema-upgrade and the
// kubectl-schema_upgrade symlink (cmake --install into a temp prefix, what `make install` runs),
// kubectl finds the plugin on PATH, and the status view summarises each SchemaUpgrade of a state
// folder (phase, current/target, last step, next retry, blocked sessions), filtered by -n / NAME;
// with --kubernetes the same view reads the status subresources from the API (the emulator).
#include <gtest/gtest.h>

#include <filesystem>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/cli_runner.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

ProcessResult RunProc(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {}) {
  ProcessSpec s;
  s.argv = argv;
  s.env = env;
  s.timeout = std::chrono::minutes(2);
  auto r = PosixProcessRunner()->Run(s);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ProcessResult{};
}

class KubectlPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string build = std::filesystem::path(CliBinary()).parent_path().string();
    ProcessResult inst = RunProc({"cmake", "--install", build, "--prefix", prefix_.path()});
    ASSERT_TRUE(inst.Succeeded()) << inst.Tail(10);
    bin_ = prefix_.Path("bin");
    ASSERT_TRUE(std::filesystem::is_symlink(bin_ + "/kubectl-schema_upgrade"));
    const char* path = std::getenv("PATH");
    env_ = {{"PATH", bin_ + ":" + (path ? path : "/usr/bin:/bin")}, {"KUBECONFIG", state_.Path("no-kubeconfig")}};

    auto store = NewDirStatusStore(LocalFileSystem(), state_.Path("status"));
    ResourceStatus k;
    k.resource = "ciam/kratos";
    k.phase = Phase::kSucceeded;
    k.current_version = "20240301000003000000";
    k.target_version = "v1.2.0";
    k.image = "localhost/oryd/kratos:v1.2.0";
    k.previous_image = "localhost/oryd/kratos:v1.1.0";
    k.applied = {{"20240301000003000000", "identities_add_metadata", 14, "2026-12-01T10:00:00Z"}};
    k.applied_total = 3;
    k.conditions = {{"Ready", "True", "Succeeded", "upgraded", 1, "2026-12-01T10:00:01Z"}};
    ASSERT_TRUE(store->Save(k.resource, k).ok());
    ResourceStatus a;
    a.resource = "shop/athena";
    a.phase = Phase::kMigrating;
    a.current_version = "0001";
    a.target_version = "v1.1.0";
    a.pending = {"0002", "0003"};
    a.next_retry_at = "2026-12-01T10:05:00Z";
    a.attempts = 2;
    a.message = "lock timeout on orders; retrying";
    a.blocked_sessions = {{4242, "athena-api", 3500, "UPDATE orders SET ..."}};
    ASSERT_TRUE(store->Save(a.resource, a).ok());
  }

  ProcessResult Kubectl(std::vector<std::string> args) {
    args.insert(args.begin(), "kubectl");
    return RunProc(args, env_);
  }

  TempDir prefix_, state_;
  std::string bin_;
  std::map<std::string, std::string> env_;
};

TEST_F(KubectlPluginTest, KubectlFindsThePluginAndStatusSummarisesEachResource) {
  ProcessResult list = Kubectl({"plugin", "list"});
  EXPECT_NE(list.out.find(bin_ + "/kubectl-schema_upgrade"), std::string::npos) << list.out << list.err;

  ProcessResult st = Kubectl({"schema-upgrade", "status", "--state-dir", state_.path()});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  for (const char* want : {"SchemaUpgrade ciam/kratos\n", "Phase:              Succeeded  (Ready=True, Succeeded)\n",
                           "Current version:    20240301000003000000\n", "Target version:     v1.2.0\n",
                           "Image:              localhost/oryd/kratos:v1.2.0 (was localhost/oryd/kratos:v1.1.0)\n",
                           "Last step:          applied 20240301000003000000 identities_add_metadata (14 ms, 2026-12-01T10:00:00Z)\n",
                           "Next retry:         -\n", "Blocked sessions:   none\n",
                           "SchemaUpgrade shop/athena\n", "Phase:              Migrating\n",
                           "Pending:            2 migration(s): 0002 .. 0003\n",
                           "Last step:          lock timeout on orders; retrying\n",
                           "Next retry:         2026-12-01T10:05:00Z  (attempt 2)\n", "Blocked sessions:   1\n",
                           "  pid 4242 (athena-api) waiting 3500 ms: UPDATE orders SET ...\n"}) {
    EXPECT_NE(st.out.find(want), std::string::npos) << "missing \"" << want << "\" in:\n" << st.out;
  }

  ProcessResult one = Kubectl({"schema-upgrade", "status", "-n", "ciam", "kratos", "--state-dir", state_.path()});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("ciam/kratos"), std::string::npos);
  EXPECT_EQ(one.out.find("shop/athena"), std::string::npos) << one.out;

  ProcessResult none = Kubectl({"schema-upgrade", "status", "-n", "ciam", "athena", "--state-dir", state_.path()});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("no SchemaUpgrade athena in namespace ciam has status in " + state_.path()),
            std::string::npos) << none.err;
}

TEST_F(KubectlPluginTest, OtherCommandsAreTheCliOnes) {
  ProcessResult v = Kubectl({"schema-upgrade", "version"});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out.rfind("schema-upgrade ", 0), 0u) << v.out;
  ProcessResult help = Kubectl({"schema-upgrade", "--help"});
  EXPECT_NE(help.out.find("kubectl schema-upgrade <command>"), std::string::npos) << help.out;
  ProcessResult bad = Kubectl({"schema-upgrade", "status", "-n", "a", "-A"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST_F(KubectlPluginTest, KubernetesViewReadsTheStatusSubresources) {
  KubeEmulator emu;
  emu.Start();
  emu.ApplyCrd();
  TempDir files;
  for (const char* n : {"kratos", "hydra"}) {
    std::string f = files.Write(std::string(n) + ".json", SchemaUpgradeJson(n, "v1.2.0", "default"));
    emu.Kubectl({"apply", "-f", f});
  }
  emu.Kubectl({"patch", "schemaupgrade", "kratos", "--subresource=status", "--type=merge", "-p",
               R"({"status":{"phase":"Migrating","currentVersion":"20240101000004000000","targetVersion":"v1.2.0",)"
               R"("attempts":3,"nextRetryAt":"2026-12-01T10:05:00Z","message":"lock busy; retrying",)"
               R"("blockedSessions":[{"pid":77,"applicationName":"kratos","waitingMs":2500,"query":"SELECT 1"}]}})"});
  ProcessResult st = Kubectl({"schema-upgrade", "status", "--kubernetes", "--kubeconfig", emu.Kubeconfig()});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  for (const char* want : {"SchemaUpgrade default/kratos\n", "Phase:              Migrating\n",
                           "Current version:    20240101000004000000\n", "Target version:     v1.2.0\n",
                           "Last step:          lock busy; retrying\n",
                           "Next retry:         2026-12-01T10:05:00Z  (attempt 3)\n",
                           "  pid 77 (kratos) waiting 2500 ms: SELECT 1\n", "SchemaUpgrade default/hydra\n",
                           "Last step:          no status yet: no controller has reconciled it"}) {
    EXPECT_NE(st.out.find(want), std::string::npos) << "missing \"" << want << "\" in:\n" << st.out;
  }
  ProcessResult other = Kubectl({"schema-upgrade", "status", "--kubernetes", "--kubeconfig", emu.Kubeconfig(), "-n", "ciam"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("no SchemaUpgrade in namespace ciam in the cluster"), std::string::npos) << other.err;
  EXPECT_EQ(Kubectl({"schema-upgrade", "status", "--kubernetes", "--state-dir", state_.path()}).exit_code, 2);
}

}  // namespace
}  // namespace su::testing
