// Integration tests of the Podman runtimes against real podman and Debian's podman-compose: tiny
// busybox images imported locally (v1, v2 that stay up, "broken" that exits 1 at once), a compose
// file with container_name, one-off runs, bump v1 -> v2 with Rollout/Observe/VerifyRunning, and a
// broken bump that VerifyRunning reports with its logs. Everything created is removed in teardown.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/fs.h"
#include "reconcilers/runtimes/podman/compose_edit.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/runtimes/podman/podman.h"
#include "reconcilers/runtimes/podman/verify.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

// Delegates to the real runner and keeps every argv, so tests can check what `ps` could show.
class RecordingRunner : public ProcessRunner {
 public:
  std::vector<std::vector<std::string>> argvs;
  Result<ProcessResult> Run(const ProcessSpec& spec) override {
    argvs.push_back(spec.argv);
    return PosixProcessRunner()->Run(spec);
  }
};

std::string SourceDir() {
  const char* d = std::getenv("SU_SOURCE_DIR");
  return d ? d : "/work/main";
}

class PodmanIntegrationTest : public ::testing::Test {
 protected:
  static inline std::unique_ptr<testing::TempDir> dir_;
  static inline PodmanConfig config_;
  static inline std::string repo_;       // e.g. sutest/podman-1234 (short name, as in compose)
  static inline std::string container_;  // container_name in the compose file
  static inline std::string network_;    // the network podman-compose creates
  static inline bool ready_ = false;
  static inline std::string setup_error_;

  static Result<ProcessResult> Podman(std::vector<std::string> args) {
    ProcessSpec ps;
    args.insert(args.begin(), "podman");
    ps.argv = args;
    ps.env = config_.env;
    ps.timeout = std::chrono::milliseconds(60000);
    return PosixProcessRunner()->Run(ps);
  }

  static bool Import(const std::string& tar, const std::string& tag, const std::string& script) {
    auto r = Podman({"import", "--change", "ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"" + script + "\"]",
                     tar, "localhost/" + repo_ + ":" + tag});
    if (!r.ok() || !r->Succeeded()) {
      setup_error_ = "podman import " + tag + ": " + (r.ok() ? r->Tail(5) : r.status().ToString());
      return false;
    }
    return true;
  }

  static void SetUpTestSuite() {
    config_.env = {{"CONTAINERS_CONF", SourceDir() + "/tests/fixtures/podman/containers.conf"}};
    config_.pull = "never";  // no registry here: fail fast instead of retrying pulls
    config_.stop_timeout = std::chrono::seconds(2);
    std::string id = std::to_string(getpid());
    repo_ = "sutest/podman-" + id;
    container_ = "sutest-podman-" + id + "-app";
    dir_ = std::make_unique<testing::TempDir>();
    std::string project = "proj" + id;
    network_ = project + "_default";
    // A rootfs of one static busybox; /bin/sh for podman-compose-free shells inside.
    std::string root = dir_->Path("rootfs");
    if (!LocalFileSystem()->MakeDirs(root + "/bin").ok() || symlink("busybox", (root + "/bin/sh").c_str()) != 0) {
      setup_error_ = "cannot create rootfs";
      return;
    }
    ProcessSpec cp;
    cp.argv = {"cp", "/bin/busybox", root + "/bin/busybox"};
    ProcessSpec tar;
    tar.argv = {"tar", "-C", root, "-cf", dir_->Path("rootfs.tar"), "."};
    auto c = PosixProcessRunner()->Run(cp);
    auto t = PosixProcessRunner()->Run(tar);
    if (!c.ok() || !c->Succeeded() || !t.ok() || !t->Succeeded()) {
      setup_error_ = "cannot build rootfs.tar (is busybox-static installed?)";
      return;
    }
    // sh as PID 1 ignores SIGTERM unless trapped; the trap makes `podman rm -t` quick.
    const std::string stay_up = "trap 'exit 0' TERM; echo app $0 up; while :; do sleep 1; done";
    if (!Import(dir_->Path("rootfs.tar"), "v1", stay_up) || !Import(dir_->Path("rootfs.tar"), "v2", stay_up) ||
        !Import(dir_->Path("rootfs.tar"), "broken",
                "echo starting broken; echo schema mismatch: migrations pending >&2; exit 1")) {
      return;
    }
    ready_ = true;
  }

  static void TearDownTestSuite() {
    (void)Podman({"rm", "-f", "-t", "0", "--ignore", container_});
    for (const char* tag : {"v1", "v2", "broken"}) (void)Podman({"rmi", "-f", "localhost/" + repo_ + ":" + tag});
    (void)Podman({"network", "rm", "-f", network_});
    dir_.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(ready_) << setup_error_;
    compose_text_ =
        "# test stack (comments and layout must survive the bump)\n"
        "services:\n"
        "  app:   # the service under test\n"
        "    image: " + repo_ + ":v1   # bumped by the controller\n"
        "    container_name: " + container_ + "\n"
        "    restart: \"no\"\n";
    compose_file_ = dir_->Write("proj" + std::to_string(getpid()) + "/docker-compose.yml", compose_text_);
    ref_.kind = "ComposeService";
    ref_.name = container_;
    ref_.service = "app";
    ref_.compose_file = compose_file_;
  }

  void TearDown() override { (void)Podman({"rm", "-f", "-t", "0", "--ignore", container_}); }

  std::string Image(const std::string& tag) { return repo_ + ":" + tag; }

  std::string compose_text_;
  std::string compose_file_;
  WorkloadRef ref_;
};

TEST_F(PodmanIntegrationTest, RunOnceCapturesExitCodeAndOutputAndKeepsEnvOutOfArgv) {
  RecordingRunner runner;
  auto rt = NewPodmanContainerRuntime(&runner, config_);
  const std::string secret = "postgres://kratos:Sup3r-s3cret-pw@127.0.0.1/kratos";
  ContainerRunSpec spec;
  spec.image = Image("v1");
  spec.entrypoint = {"/bin/busybox", "sh", "-c", "echo dsn=$KRATOS_DSN; echo $0 $1; echo to-stderr >&2; exit 7"};
  spec.args = {"migrate", "up"};
  spec.env = {{"KRATOS_DSN", secret}};
  std::string streamed;
  spec.on_output = [&](const std::string& chunk, bool) { streamed += chunk; };
  auto r = rt->RunOnce(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_NE(r->out.find("dsn=" + secret), std::string::npos) << r->out;  // the value reached the container
  EXPECT_NE(r->out.find("migrate up"), std::string::npos) << r->out;
  EXPECT_NE(r->err.find("to-stderr"), std::string::npos) << r->err;
  EXPECT_NE(streamed.find("to-stderr"), std::string::npos);
  ASSERT_FALSE(runner.argvs.empty());
  for (const auto& argv : runner.argvs) {
    for (const auto& a : argv) EXPECT_EQ(a.find("Sup3r"), std::string::npos) << FormatArgv(argv);
  }
  // --rm: nothing left behind.
  auto ps = Podman({"ps", "-a", "--filter", "ancestor=localhost/" + Image("v1"), "--format", "{{.Names}}"});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, "");
}

TEST_F(PodmanIntegrationTest, RunOnceOfAMissingImageIsNotFoundAndImageExistsAgrees) {
  auto rt = NewPodmanContainerRuntime(PosixProcessRunner(), config_);
  ContainerRunSpec spec;
  spec.image = repo_ + ":does-not-exist";
  auto r = rt->RunOnce(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  EXPECT_FALSE(rt->ImageExists(spec.image).value());
  EXPECT_TRUE(rt->ImageExists(Image("v2")).value());
}

TEST_F(PodmanIntegrationTest, BumpFromV1ToV2RunsTheNewImageAndKeepsTheFileLayout) {
  auto wl = NewComposeWorkloadRuntime(PosixProcessRunner(), config_);
  ASSERT_EQ(wl->DeclaredImage(ref_).value(), Image("v1"));
  Status up = wl->Rollout(ref_, Image("v1"));
  ASSERT_TRUE(up.ok()) << up.ToString();
  auto st = wl->Observe(ref_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->running) << st->state;
  // podman records the short name it resolved locally as localhost/...
  EXPECT_EQ(st->image, "localhost/" + Image("v1"));
  EXPECT_TRUE(SameImage(Image("v1"), st->image));

  ASSERT_TRUE(wl->SetDeclaredImage(ref_, Image("v1"), Image("v2")).ok());
  std::string expected = compose_text_;
  expected.replace(expected.find(":v1   #"), 3, ":v2");
  EXPECT_EQ(LocalFileSystem()->ReadFile(compose_file_).value(), expected);

  Status roll = wl->Rollout(ref_, Image("v2"));
  ASSERT_TRUE(roll.ok()) << roll.ToString();
  st = wl->Observe(ref_);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->running);
  EXPECT_TRUE(SameImage(Image("v2"), st->image)) << st->image;
  Status v = VerifyRunning(wl.get(), ref_, Image("v2"), std::chrono::milliseconds(1500), RealClock());
  EXPECT_TRUE(v.ok()) << v.ToString();
  auto logs = wl->Logs(ref_, 5);
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  EXPECT_NE(logs->find("up"), std::string::npos) << *logs;
}

TEST_F(PodmanIntegrationTest, BrokenImageFailsVerifyWithItsLogs) {
  auto wl = NewComposeWorkloadRuntime(PosixProcessRunner(), config_);
  ASSERT_TRUE(wl->SetDeclaredImage(ref_, Image("v1"), Image("broken")).ok());
  Status roll = wl->Rollout(ref_, Image("broken"));
  ASSERT_TRUE(roll.ok()) << roll.ToString();
  Status v = VerifyRunning(wl.get(), ref_, Image("broken"), std::chrono::milliseconds(3000), RealClock());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.code(), Code::kFailed);
  EXPECT_NE(v.message().find("schema mismatch: migrations pending"), std::string::npos) << v.message();
  EXPECT_NE(v.message().find("exit code 1"), std::string::npos) << v.message();
  EXPECT_NE(v.message().find("Next:"), std::string::npos);
}

TEST_F(PodmanIntegrationTest, RolloutToAMissingImageLeavesTheRunningContainer) {
  auto wl = NewComposeWorkloadRuntime(PosixProcessRunner(), config_);
  ASSERT_TRUE(wl->Rollout(ref_, Image("v1")).ok());
  auto before = wl->Observe(ref_);
  ASSERT_TRUE(before.ok() && before->running);
  ASSERT_TRUE(wl->SetDeclaredImage(ref_, Image("v1"), repo_ + ":v9-missing").ok());
  Status roll = wl->Rollout(ref_, repo_ + ":v9-missing");
  ASSERT_FALSE(roll.ok());
  EXPECT_EQ(roll.code(), Code::kNotFound) << roll.ToString();
  auto after = wl->Observe(ref_);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->running);
  EXPECT_EQ(after->started_at, before->started_at);
  EXPECT_TRUE(SameImage(Image("v1"), after->image));
}

}  // namespace
}  // namespace su
