// Expand/contract on the real edges (docs/expand-contract.md): a real PostgreSQL, the real sql
// engine, the real Podman compose runtime and VerifyRunning, and a FakeClock for the soak. The old
// version keeps serving during the expand phase (its container runs the old image and answers,
// and the column it reads is there); the contract migration runs only after the verified bump, once
// the soak is over and no container of the service runs the old image any more.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "reconcilers/base/process.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/runtimes/podman/podman.h"
#include "reconcilers/runtimes/podman/verify.h"
#include "tests/integration/policies/policy_harness.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

bool Ok(const Result<ProcessResult>& r) { return r.ok() && r->Succeeded(); }
std::string Fail(const Result<ProcessResult>& r) { return r.ok() ? r->Tail(10) : r.status().ToString(); }

Result<ProcessResult> Podman(std::vector<std::string> args) {
  ProcessSpec ps;
  args.insert(args.begin(), "podman");
  ps.argv = std::move(args);
  ps.env = {{"CONTAINERS_CONF", TestContainersConf()}};
  ps.timeout = std::chrono::seconds(120);
  return PosixProcessRunner()->Run(ps);
}

// Two tiny images that stay up and answer `podman exec ... echo` (static busybox), named for this
// process only; removed by the test.
class ContractPodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string pid = std::to_string(getpid());
    repo_ = "localhost/su-contract-" + pid + "/app";
    project_ = "sucontract" + pid;
    container_ = "su-contract-" + pid + "-app";
    std::string root = tmp_.Path("rootfs");
    std::filesystem::create_directories(root + "/bin");
    ASSERT_EQ(symlink("busybox", (root + "/bin/sh").c_str()), 0);
    ProcessSpec cp;
    cp.argv = {"cp", "/bin/busybox", root + "/bin/busybox"};
    ProcessSpec tar;
    tar.argv = {"tar", "-C", root, "-cf", tmp_.Path("rootfs.tar"), "."};
    ASSERT_TRUE(Ok(PosixProcessRunner()->Run(cp))) << "busybox-static is needed";
    ASSERT_TRUE(Ok(PosixProcessRunner()->Run(tar)));
    const std::string stay_up = "trap 'exit 0' TERM; while :; do sleep 1; done";
    for (const char* tag : {"v1", "v2"}) {
      auto r = Podman({"import", "--change", "ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"" + stay_up + "\"]",
                       tmp_.Path("rootfs.tar"), repo_ + ":" + tag});
      ASSERT_TRUE(Ok(r)) << Fail(r);
    }
    compose_ = h_.Write(project_ + "/docker-compose.yml",
                        "services:\n"
                        "  app:\n"
                        "    image: " + repo_ + ":v1\n"
                        "    container_name: " + container_ + "\n"
                        "    restart: \"no\"\n");
    ProcessSpec up;
    up.argv = {"podman-compose", "-f", compose_, "up", "-d", "app"};
    up.env = {{"CONTAINERS_CONF", TestContainersConf()}};
    up.cwd = h_.dir() + "/" + project_;
    up.timeout = std::chrono::seconds(120);
    auto u = PosixProcessRunner()->Run(up);
    ASSERT_TRUE(Ok(u)) << Fail(u);

    // The database the old version (v1) runs on, and the upgrade to v2: expand, then contract.
    h_.WriteMigration("001", "users", "CREATE TABLE users (id int PRIMARY KEY, mail text);\n"
                                      "INSERT INTO users VALUES (1, 'a@example.org');\n");
    PodmanConfig pc;
    pc.env = {{"CONTAINERS_CONF", TestContainersConf()}};
    pc.stop_timeout = std::chrono::seconds(2);
    runtime_ = NewComposeWorkloadRuntime(PosixProcessRunner(), pc);
    Reconciler first(Deps());
    auto out = h_.Reconcile(first, Su("v1"));
    ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
    h_.WriteMigration("002", "add_email", "ALTER TABLE users ADD COLUMN email text;\n"
                                          "UPDATE users SET email = mail;\n");
    h_.WriteMigration("003", "drop_mail", "-- v1 reads users.mail: drop it once v1 is gone.\n"
                                          "-- schema-upgrade: phase=contract\n"
                                          "ALTER TABLE users DROP COLUMN mail;\n");
  }

  void TearDown() override {
    (void)Podman({"rm", "-f", "-t", "0", container_});
    (void)Podman({"rm", "-f", "-t", "0", container_ + "-extra"});
    (void)Podman({"network", "rm", "-f", project_ + "_default"});
    for (const char* tag : {"v1", "v2"}) (void)Podman({"rmi", "-f", repo_ + ":" + tag});
  }

  SchemaUpgrade Su(const std::string& target) {
    SchemaUpgrade su = h_.Manifest("app", target,
                                   "contract:\n  after: 1h\n"
                                   "verify:\n  settle: 1s\n"
                                   "onFailure: runDown\n");
    su.image = repo_ + ":" + target;
    su.workload.kind = "ComposeService";
    su.workload.name = container_;
    su.workload.service = "app";
    su.workload.compose_file = compose_;
    return su;
  }

  ReconcilerDeps Deps() {
    ReconcilerDeps d = h_.Deps();
    d.workloads = runtime_.get();
    // Verify watches real containers: on the real clock (the FakeClock is for the soak only).
    d.verify = [](WorkloadRuntime* rt, const WorkloadRef& w, const std::string& image, std::chrono::milliseconds settle,
                  Clock*) { return VerifyRunning(rt, w, image, settle, RealClock()); };
    d.on_progress = [this](const Progress& p) {
      if (p.event == Progress::Event::kMigrationDone) during_migration_(p);
    };
    return d;
  }

  // What the old version sees right now: the image its container runs, whether it answers, and
  // whether the column it reads is there.
  std::string OldVersionView() {
    auto img = Podman({"inspect", "--format", "{{.ImageName}} {{.State.Running}}", container_});
    auto ping = Podman({"exec", container_, "/bin/busybox", "echo", "pong"});
    std::string mail = h_.Scalar("SELECT mail FROM users WHERE id = 1");
    return (img.ok() ? img->out.substr(0, img->out.find('\n')) : "?") + " | " +
           (Ok(ping) ? ping->out.substr(0, ping->out.find('\n')) : "no answer: " + Fail(ping)) + " | " + mail;
  }

  PolicyHarness h_{"contract"};
  TempDir tmp_;
  std::string repo_, project_, container_, compose_;
  std::unique_ptr<WorkloadRuntime> runtime_;
  std::function<void(const Progress&)> during_migration_ = [](const Progress&) {};
};

TEST_F(ContractPodmanTest, OldVersionServesDuringExpandAndContractWaitsForVerifyAndSoak) {
  std::vector<std::string> seen;  // "<version>: <old version's view>" after each migration
  during_migration_ = [&](const Progress& p) { seen.push_back(p.version + ": " + OldVersionView()); };
  Reconciler r(Deps());
  auto out = h_.Reconcile(r, Su("v2"));
  ASSERT_EQ(out.kind, OutcomeKind::kWaiting) << out.result.ToString();
  EXPECT_EQ(out.reason, "ContractSoaking");
  EXPECT_EQ(out.requeue_after, std::chrono::hours(1)) << "requeued when the soak ends";
  // During the expand phase the v1 container ran, answered, and read users.mail.
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "002: " + repo_ + ":v1 true | pong | a@example.org");
  during_migration_ = [](const Progress&) {};  // the contract drops users.mail: nothing to view then
  // Bumped and verified: v2 runs; the contract has not run (the column v1 read is still there).
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  EXPECT_EQ(h_.Scalar("SELECT mail FROM users WHERE id = 1"), "a@example.org");
  auto ws = runtime_->Observe(Su("v2").workload);
  ASSERT_TRUE(ws.ok());
  EXPECT_TRUE(ws->running);
  EXPECT_TRUE(SameImage(ws->image, repo_ + ":v2")) << ws->image;
  auto st = h_.store()->Load("policies/app");
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ((*st)->phase, Phase::kSoaking);
  EXPECT_FALSE((*st)->contract_after.empty());
  EXPECT_NE((*st)->message.find("run at " + (*st)->contract_after), std::string::npos) << (*st)->message;

  // Before the soak ends nothing runs.
  h_.clock().Advance(std::chrono::minutes(59));
  out = h_.Reconcile(r, Su("v2"));
  EXPECT_EQ(out.reason, "ContractSoaking");
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));

  // Soak over, but a container of the service still runs v1 (started by hand with compose's labels).
  h_.clock().Advance(std::chrono::minutes(1));
  auto extra = Podman({"run", "-d", "--name", container_ + "-extra", "--label", "com.docker.compose.service=app",
                       "--label", "com.docker.compose.project=" + project_, repo_ + ":v1"});
  ASSERT_TRUE(Ok(extra)) << Fail(extra);
  out = h_.Reconcile(r, Su("v2"));
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting) << out.result.ToString();
  EXPECT_EQ(out.reason, "OldVersionRunning");
  EXPECT_NE(out.status.message.find("(container " + container_ + "-extra)"), std::string::npos) << out.status.message;
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"}));
  ASSERT_TRUE(Ok(Podman({"rm", "-f", "-t", "0", container_ + "-extra"})));

  // Now the contract runs, and the resource is Ready.
  out = h_.Reconcile(r, Su("v2"));
  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002", "003"}));
  EXPECT_EQ(h_.Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                      "column_name = 'mail'"),
            "0");
  EXPECT_EQ(h_.Scalar("SELECT email FROM users WHERE id = 1"), "a@example.org");
  st = h_.store()->Load("policies/app");
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ((*st)->phase, Phase::kSucceeded);
  const Condition* ready = FindCondition(**st, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "True");
  h_.ExpectNoSecretAnywhere();
}

TEST_F(ContractPodmanTest, AFailedVerifyRestoresV1AndKeepsTheExpandedSchema) {
  // v2 exits at once: verify fails; runDown must not undo the expand migration.
  auto broken = Podman({"import", "--change", "ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"exit 1\"]",
                        tmp_.Path("rootfs.tar"), repo_ + ":v2"});
  ASSERT_TRUE(Ok(broken)) << Fail(broken);
  Reconciler r(Deps());
  auto out = h_.Reconcile(r, Su("v2"));
  ASSERT_EQ(out.kind, OutcomeKind::kFailed) << out.result.ToString();
  EXPECT_EQ(out.reason, "VerifyFailed");
  EXPECT_EQ(h_.History(), (std::vector<std::string>{"001", "002"})) << "expand kept, contract never ran";
  EXPECT_EQ(h_.Scalar("SELECT email FROM users WHERE id = 1"), "a@example.org");
  auto ws = runtime_->Observe(Su("v2").workload);
  ASSERT_TRUE(ws.ok());
  EXPECT_TRUE(ws->running);
  EXPECT_TRUE(SameImage(ws->image, repo_ + ":v1")) << "v1 is back: " << ws->image;
  EXPECT_EQ(OldVersionView(), repo_ + ":v1 true | pong | a@example.org");
  auto st = h_.store()->Load("policies/app");
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_NE((*st)->failure_action.find("runDown left the schema alone"), std::string::npos) << (*st)->failure_action;
}

}  // namespace
}  // namespace su::testing
