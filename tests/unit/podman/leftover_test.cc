// PodmanContainerRuntime::RunOnce with a fixed container name that is still taken (the migration
// container of a killed controller): only a leftover that has *finished* is removed and replaced;
// one that runs, or exists and is about to run, is never touched, and the removal itself cannot
// kill a container that started in between. Scripted podman, in call order.
#include <gtest/gtest.h>

#include <ctime>
#include <deque>

#include "reconcilers/runtimes/podman/podman.h"

namespace su {
namespace {

// Answers calls from a queue of (argv prefix, result), strictly in order; records every argv.
class SequenceRunner : public ProcessRunner {
 public:
  struct Step {
    std::string prefix;  // FormatArgv prefix the call must start with
    int exit_code;
    std::string out, err;
  };
  std::deque<Step> steps;
  std::vector<std::string> argvs;

  void Then(std::string prefix, int exit_code, std::string out = "", std::string err = "") {
    steps.push_back(Step{std::move(prefix), exit_code, std::move(out), std::move(err)});
  }

  Result<ProcessResult> Run(const ProcessSpec& spec) override {
    std::string argv = FormatArgv(spec.argv);
    argvs.push_back(argv);
    if (steps.empty()) return Status::Error(Code::kNotFound, "unscripted call: " + argv);
    Step s = steps.front();
    steps.pop_front();
    if (argv.rfind(s.prefix, 0) != 0) return Status::Error(Code::kNotFound, "expected " + s.prefix + ", got " + argv);
    ProcessResult r;
    r.exit_code = s.exit_code;
    r.out = s.out;
    r.err = s.err;
    return r;
  }
};

const char* kInUse =
    "Error: creating container storage: the container name \"su-migrate-kratos\" is already in use by 4f2e. You have "
    "to remove that container to be able to reuse that name: that name is already in use\n";

std::string Now(long long delta_s = 0) { return std::to_string(static_cast<long long>(std::time(nullptr)) + delta_s); }

class LeftoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_.image = "localhost/oryd/kratos:v1.2.0";
    spec_.args = {"migrate", "sql", "up", "-e", "--yes"};
    spec_.name = "su-migrate-kratos";
  }
  void NameTaken() {
    runner_.Then("podman run", 125, "", kInUse);
    runner_.Then("podman image exists", 0);  // podman's 125: was it the image?
  }
  void Inspect(const std::string& out) {
    runner_.Then("podman inspect --type container --format", 0, out + "\n");
  }
  int Count(const std::string& prefix) const {
    int n = 0;
    for (const auto& a : runner_.argvs) n += a.rfind(prefix, 0) == 0;
    return n;
  }
  ContainerRunSpec spec_;
  SequenceRunner runner_;
};

TEST_F(LeftoverTest, ACreatedButNotYetStartedLeftoverIsNotRemovedNorJoinedByASecondMigrator) {
  // A killed controller's podman client created the container a moment ago and is about to start it.
  NameTaken();
  Inspect("created " + Now(-2));
  auto rt = NewPodmanContainerRuntime(&runner_);
  auto r = rt->RunOnce(spec_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("already in use"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(Count("podman rm"), 0);
  EXPECT_EQ(Count("podman run"), 1);
  EXPECT_TRUE(runner_.steps.empty());
}

TEST_F(LeftoverTest, ARunningLeftoverIsNotRemoved) {
  NameTaken();
  Inspect("running " + Now(-30));
  auto rt = NewPodmanContainerRuntime(&runner_);
  auto r = rt->RunOnce(spec_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Count("podman rm"), 0);
  EXPECT_EQ(Count("podman run"), 1);
}

TEST_F(LeftoverTest, AnExitedLeftoverIsRemovedWithoutForceAndTheRunRepeated) {
  NameTaken();
  Inspect("exited " + Now(-300));
  runner_.Then("podman rm --ignore su-migrate-kratos", 0);
  runner_.Then("podman run", 0, "Successfully applied migrations!\n");
  auto rt = NewPodmanContainerRuntime(&runner_);
  auto r = rt->RunOnce(spec_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(Count("podman run"), 2);
  for (const auto& a : runner_.argvs) EXPECT_EQ(a.find("rm -f"), std::string::npos) << a;
}

TEST_F(LeftoverTest, ALeftoverThatStartsBetweenTheCheckAndTheRemovalIsKept) {
  NameTaken();
  Inspect("exited " + Now(-300));
  runner_.Then("podman rm --ignore su-migrate-kratos", 2, "",
       "Error: cannot remove container 4f2e as it is running - running or paused containers cannot be removed "
       "without force: container state improper\n");
  auto rt = NewPodmanContainerRuntime(&runner_);
  auto r = rt->RunOnce(spec_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("already in use"), std::string::npos);
  EXPECT_EQ(Count("podman run"), 1);
}

TEST_F(LeftoverTest, AContainerCreatedLongAgoAndNeverStartedIsALeftover) {
  NameTaken();
  Inspect("created " + Now(-3600));
  runner_.Then("podman rm --ignore su-migrate-kratos", 0);
  runner_.Then("podman run", 0);
  auto rt = NewPodmanContainerRuntime(&runner_);
  auto r = rt->RunOnce(spec_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Count("podman run"), 2);
}

TEST_F(LeftoverTest, AnUnknownStateCountsAsBusy) {
  NameTaken();
  runner_.Then("podman inspect", 125, "", "Error: timed out waiting for the lock\n");
  auto rt = NewPodmanContainerRuntime(&runner_);
  auto r = rt->RunOnce(spec_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Count("podman rm"), 0);
}

}  // namespace
}  // namespace su
