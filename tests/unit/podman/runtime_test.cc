// Unit tests of the Podman runtimes with a scripted ProcessRunner (argv, env handling, inspect
// parsing, rollout sequence), image reference comparison, and VerifyRunning over a fake workload
// and a FakeClock.
#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "reconcilers/base/clock.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/runtimes/podman/podman.h"
#include "reconcilers/runtimes/podman/verify.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

// Records every ProcessSpec; answers with the first rule whose argv prefix matches.
class ScriptedRunner : public ProcessRunner {
 public:
  struct Rule {
    std::vector<std::string> prefix;
    ProcessResult result;
  };
  std::vector<Rule> rules;
  std::vector<ProcessSpec> calls;

  void On(std::vector<std::string> prefix, int exit_code, std::string out = "", std::string err = "") {
    ProcessResult r;
    r.exit_code = exit_code;
    r.out = std::move(out);
    r.err = std::move(err);
    rules.insert(rules.begin(), Rule{std::move(prefix), r});  // later rules win
  }
  Result<ProcessResult> Run(const ProcessSpec& spec) override {
    calls.push_back(spec);
    for (const auto& rule : rules) {
      if (rule.prefix.size() <= spec.argv.size() &&
          std::equal(rule.prefix.begin(), rule.prefix.end(), spec.argv.begin())) {
        return rule.result;
      }
    }
    return Status::Error(Code::kNotFound, "unscripted: " + FormatArgv(spec.argv));
  }
  std::vector<std::string> Argvs() const {
    std::vector<std::string> v;
    for (const auto& c : calls) v.push_back(FormatArgv(c.argv));
    return v;
  }
};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v) {
    if (x.find(s) != std::string::npos) return true;
  }
  return false;
}

// ---- image references -----------------------------------------------------------------------

TEST(ImageRefTest, ShortNameMatchesWhatPodmanResolvedItTo) {
  EXPECT_TRUE(SameImage("oryd/kratos:v1.2.0", "localhost/oryd/kratos:v1.2.0"));
  EXPECT_TRUE(SameImage("oryd/kratos:v1.2.0", "docker.io/oryd/kratos:v1.2.0"));
  EXPECT_TRUE(SameImage("postgres", "docker.io/library/postgres:latest"));
  EXPECT_TRUE(SameImage("docker.io/library/postgres:16", "index.docker.io/postgres:16"));
  EXPECT_FALSE(SameImage("oryd/kratos:v1.2.0", "localhost/oryd/kratos:v1.1.0"));
  EXPECT_FALSE(SameImage("localhost/oryd/kratos:v1", "quay.io/oryd/kratos:v1"));
  EXPECT_FALSE(SameImage("docker.io/oryd/kratos:v1", "localhost/oryd/kratos:v1"));
  EXPECT_FALSE(SameImage("oryd/kratos:v1", "localhost/other/kratos:v1"));
}

TEST(ImageRefTest, ParsesRegistryPortTagAndDigest) {
  ImageRef r = ParseImageRef("registry.local:5000/team/app:2.0@sha256:ab");
  EXPECT_EQ(r.registry, "registry.local:5000");
  EXPECT_EQ(r.path, "team/app");
  EXPECT_EQ(r.tag, "2.0");
  EXPECT_EQ(r.digest, "sha256:ab");
  EXPECT_EQ(NormalizeImage("busybox"), "busybox:latest");
  EXPECT_EQ(ImageTag("localhost:5000/a"), "latest");
  EXPECT_EQ(ImageTag("oryd/kratos:v1.2.0"), "v1.2.0");
}

// ---- ContainerRuntime -----------------------------------------------------------------------

TEST(PodmanContainerRuntimeTest, RunArgvReferencesEnvByNameOnly) {
  ContainerRunSpec spec;
  spec.image = "oryd/kratos:v1.2.0";
  spec.entrypoint = {"kratos", "-c", "/etc/k.yml"};
  spec.args = {"migrate", "sql", "up", "-e", "--yes"};
  spec.env = {{"DSN", "postgres://kratos:s3cr3t-pw@db/kratos"}};
  PodmanConfig cfg;
  auto argv = BuildRunArgv(spec, cfg, "mig-1");
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  std::vector<std::string> want = {"podman", "run", "--rm", "--network", "host", "--pull", "missing",
                                   "--name", "mig-1", "--entrypoint", "kratos", "--env", "DSN",
                                   "oryd/kratos:v1.2.0", "-c", "/etc/k.yml", "migrate", "sql", "up", "-e", "--yes"};
  EXPECT_EQ(*argv, want);
  for (const auto& a : *argv) EXPECT_EQ(a.find("s3cr3t"), std::string::npos) << a;
}

TEST(PodmanContainerRuntimeTest, RunOncePassesValuesThroughTheProcessEnvironment) {
  ScriptedRunner runner;
  runner.On({"podman", "run"}, 0, "applied 3\n");
  auto rt = NewPodmanContainerRuntime(&runner, std::map<std::string, std::string>{{"CONTAINERS_CONF", "/c.conf"}});
  ContainerRunSpec spec;
  spec.image = "x:1";
  spec.env = {{"DSN", "postgres://u:pw-value@h/d"}};
  auto r = rt->RunOnce(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "applied 3\n");
  ASSERT_EQ(runner.calls.size(), 1u);
  EXPECT_EQ(runner.calls[0].env.at("DSN"), "postgres://u:pw-value@h/d");
  EXPECT_EQ(runner.calls[0].env.at("CONTAINERS_CONF"), "/c.conf");
  EXPECT_FALSE(Contains(runner.Argvs(), "pw-value"));
  EXPECT_TRUE(Contains(runner.Argvs(), "--name su-run-"));
}

TEST(PodmanContainerRuntimeTest, EnvNamesPodmanReadsItselfAreRefused) {
  ContainerRunSpec spec;
  spec.image = "x:1";
  for (const char* n : {"PATH", "CONTAINERS_CONF", "LD_PRELOAD", "bad-name", "1X"}) {
    spec.env = {{n, "v"}};
    auto argv = BuildRunArgv(spec, PodmanConfig{}, "n");
    ASSERT_FALSE(argv.ok()) << n;
    EXPECT_EQ(argv.status().code(), Code::kInvalidArgument);
  }
}

TEST(PodmanContainerRuntimeTest, NonZeroContainerExitIsAResult) {
  ScriptedRunner runner;
  runner.On({"podman", "run"}, 1, "", "schema mismatch\n");
  auto rt = NewPodmanContainerRuntime(&runner);
  ContainerRunSpec spec;
  spec.image = "x:1";
  auto r = rt->RunOnce(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
}

TEST(PodmanContainerRuntimeTest, MissingImageIsNotFound) {
  ScriptedRunner runner;
  runner.On({"podman", "run"}, 125, "", "Error: x:1: image not known\n");
  runner.On({"podman", "image", "exists"}, 1);
  auto rt = NewPodmanContainerRuntime(&runner);
  ContainerRunSpec spec;
  spec.image = "x:1";
  auto r = rt->RunOnce(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("image not known"), std::string::npos);
}

TEST(PodmanContainerRuntimeTest, TimeoutRemovesTheContainer) {
  ScriptedRunner runner;
  runner.On({"podman", "run"}, -1);
  runner.rules[0].result.timed_out = true;
  runner.On({"podman", "rm"}, 0);
  auto rt = NewPodmanContainerRuntime(&runner);
  ContainerRunSpec spec;
  spec.image = "x:1";
  spec.name = "mig-7";
  auto r = rt->RunOnce(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_TRUE(Contains(runner.Argvs(), "podman rm -f -t 0 --ignore mig-7"));
}

TEST(PodmanContainerRuntimeTest, ImageExistsMapsExitCodes) {
  ScriptedRunner runner;
  runner.On({"podman", "image", "exists", "a:1"}, 0);
  runner.On({"podman", "image", "exists", "b:1"}, 1);
  runner.On({"podman", "image", "exists", "c:1"}, 125, "", "Error: boom");
  auto rt = NewPodmanContainerRuntime(&runner);
  EXPECT_TRUE(rt->ImageExists("a:1").value());
  EXPECT_FALSE(rt->ImageExists("b:1").value());
  EXPECT_EQ(rt->ImageExists("c:1").status().code(), Code::kUnavailable);
}

// ---- ComposeWorkloadRuntime -----------------------------------------------------------------

const char* kInspectRunning = R"([{"Id":"abc","ImageName":"localhost/oryd/kratos:v1.2.0",
  "State":{"Status":"running","Running":true,"ExitCode":0,"StartedAt":"2026-01-01T00:00:00Z",
           "Health":{"Status":"","FailingStreak":0,"Log":null}},
  "RestartCount":2,"Config":{"Healthcheck":null}}])";

TEST(ParseInspectTest, ReadsImageStateRestartsAndHealth) {
  bool hc = true;
  auto st = ParseInspect(kInspectRunning, &hc);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->exists);
  EXPECT_TRUE(st->running);
  EXPECT_EQ(st->image, "localhost/oryd/kratos:v1.2.0");
  EXPECT_EQ(st->state, "running");
  EXPECT_EQ(st->restart_count, 2);
  EXPECT_EQ(st->health, "");
  EXPECT_FALSE(hc);

  auto exited = ParseInspect(R"([{"ImageName":"a:1","State":{"Status":"exited","Running":false,"ExitCode":3,
      "Healthcheck":{"Status":"unhealthy"}},"RestartCount":0,"Config":{"Healthcheck":{"Test":["CMD","true"]}}}])", &hc);
  ASSERT_TRUE(exited.ok());
  EXPECT_FALSE(exited->running);
  EXPECT_EQ(exited->exit_code, 3);
  EXPECT_EQ(exited->health, "unhealthy");
  EXPECT_TRUE(hc);
}

class ComposeRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = dir_.Write("Olympus Stack/docker-compose.yml",
                       "services:\n"
                       "  kratos:   # identity\n"
                       "    image: oryd/kratos:v1.1.0\n"
                       "    container_name: ciam-kratos\n"
                       "  hydra:\n"
                       "    image: oryd/hydra:v2.2.0\n");
    ref_.kind = "ComposeService";
    ref_.name = "ciam-kratos";
    ref_.service = "kratos";
    ref_.compose_file = file_;
    cfg_.env = {{"CONTAINERS_CONF", "/c.conf"}};
    cfg_.stop_timeout = std::chrono::seconds(3);
  }
  testing::TempDir dir_;
  std::string file_;
  WorkloadRef ref_;
  PodmanConfig cfg_;
  ScriptedRunner runner_;
};

TEST_F(ComposeRuntimeTest, SetDeclaredImageRewritesOnlyTheImageValue) {
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  EXPECT_EQ(rt->DeclaredImage(ref_).value(), "oryd/kratos:v1.1.0");
  ASSERT_TRUE(rt->SetDeclaredImage(ref_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0").ok());
  EXPECT_EQ(LocalFileSystem()->ReadFile(file_).value(),
            "services:\n  kratos:   # identity\n    image: oryd/kratos:v1.2.0\n    container_name: ciam-kratos\n"
            "  hydra:\n    image: oryd/hydra:v2.2.0\n");
  EXPECT_TRUE(runner_.calls.empty());
}

// Pre-flight: the edit is made in memory only, the image looked up, and pulled only with fetch.
TEST_F(ComposeRuntimeTest, PreflightBumpChangesNothingAndPullsOnlyWhenAskedTo) {
  const std::string before = LocalFileSystem()->ReadFile(file_).value();
  runner_.On({"podman", "image", "exists"}, 1);
  runner_.On({"podman", "pull"}, 125, "", "Error: initializing source docker://oryd/kratos:v1.9.9: manifest unknown");
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  auto look = rt->PreflightBump(ref_, "oryd/kratos:v1.9.9", false);
  ASSERT_TRUE(look.ok()) << look.status().ToString();
  EXPECT_FALSE(look->image_present);
  EXPECT_EQ(look->written, "oryd/kratos:v1.9.9");
  EXPECT_FALSE(Contains(runner_.Argvs(), "podman pull"));
  auto fetch = rt->PreflightBump(ref_, "oryd/kratos:v1.9.9", true);
  ASSERT_FALSE(fetch.ok());
  EXPECT_EQ(fetch.status().code(), Code::kNotFound);
  EXPECT_NE(fetch.status().message().find("manifest unknown"), std::string::npos) << fetch.status().message();
  EXPECT_TRUE(Contains(runner_.Argvs(), "podman pull oryd/kratos:v1.9.9"));
  EXPECT_EQ(LocalFileSystem()->ReadFile(file_).value(), before);
}

// An interpolated image resolves through the compose folder's .env and is bumped inside its braces;
// when the changing part comes from a variable that is set, the pre-flight refuses, file untouched.
TEST_F(ComposeRuntimeTest, InterpolatedImageIsResolvedAndBumpedKeepingTheVariable) {
  file_ = dir_.Write("Olympus Stack/docker-compose.yml",
                     "services:\n"
                     "  kratos:\n"
                     "    image: ${KRATOS_IMAGE:-oryd/kratos:v1.1.0}  # CI may override\n"
                     "    container_name: ciam-kratos\n");
  ref_.compose_file = file_;
  runner_.On({"podman", "image", "exists"}, 0);
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  EXPECT_EQ(rt->DeclaredImage(ref_).value(), "oryd/kratos:v1.1.0");
  auto pf = rt->PreflightBump(ref_, "oryd/kratos:v1.2.0", true);
  ASSERT_TRUE(pf.ok()) << pf.status().ToString();
  EXPECT_EQ(pf->written, "${KRATOS_IMAGE:-oryd/kratos:v1.2.0}");
  EXPECT_NE(pf->note.find("keeping the variable"), std::string::npos) << pf->note;
  ASSERT_TRUE(rt->SetDeclaredImage(ref_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0").ok());
  EXPECT_EQ(LocalFileSystem()->ReadFile(file_).value(),
            "services:\n  kratos:\n    image: ${KRATOS_IMAGE:-oryd/kratos:v1.2.0}  # CI may override\n"
            "    container_name: ciam-kratos\n");

  dir_.Write("Olympus Stack/.env", "KRATOS_IMAGE=ci.example/kratos:pr-42\n");
  const std::string before = LocalFileSystem()->ReadFile(file_).value();
  EXPECT_EQ(rt->DeclaredImage(ref_).value(), "ci.example/kratos:pr-42");
  auto refused = rt->PreflightBump(ref_, "ci.example/kratos:v1.3.0", true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("KRATOS_IMAGE"), std::string::npos) << refused.status().message();
  EXPECT_FALSE(rt->SetDeclaredImage(ref_, "ci.example/kratos:pr-42", "ci.example/kratos:v1.3.0").ok());
  EXPECT_EQ(LocalFileSystem()->ReadFile(file_).value(), before);
}

TEST_F(ComposeRuntimeTest, ErrorsNameTheComposeFile) {
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  ref_.service = "keto";
  auto r = rt->DeclaredImage(ref_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(file_), std::string::npos);
  EXPECT_NE(r.status().message().find("keto"), std::string::npos);
}

TEST_F(ComposeRuntimeTest, ContainerNameFromComposeOrProjectNaming) {
  EXPECT_EQ(ComposeContainerName(LocalFileSystem(), ref_).value(), "ciam-kratos");
  WorkloadRef hydra = ref_;
  hydra.name = "hydra";
  hydra.service = "";
  // Folder "Olympus Stack": podman-compose lowercases and drops the space.
  EXPECT_EQ(ComposeContainerName(LocalFileSystem(), hydra).value(), "olympusstack_hydra_1");
}

TEST_F(ComposeRuntimeTest, RolloutRemovesOnlyThisContainerThenComposeUp) {
  runner_.On({"podman", "image", "exists"}, 0);
  runner_.On({"podman", "rm"}, 0);
  runner_.On({"podman-compose"}, 0);
  runner_.On({"podman", "inspect"}, 0, kInspectRunning);
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  ASSERT_TRUE(rt->SetDeclaredImage(ref_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0").ok());
  Status s = rt->Rollout(ref_, "oryd/kratos:v1.2.0");
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> want = {
      "podman image exists oryd/kratos:v1.2.0",
      "podman rm -f --ignore -t 3 ciam-kratos",
      "podman-compose -f '" + file_ + "' up -d --no-deps kratos",
      "podman inspect --type container ciam-kratos",
  };
  EXPECT_EQ(runner_.Argvs(), want);
  for (const auto& c : runner_.calls) EXPECT_EQ(c.env.at("CONTAINERS_CONF"), "/c.conf");
}

TEST_F(ComposeRuntimeTest, RolloutLeavesTheOldContainerWhenTheImageIsMissing) {
  runner_.On({"podman", "image", "exists"}, 1);
  runner_.On({"podman", "pull"}, 125, "", "Error: connection refused");
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  Status s = rt->Rollout(ref_, "oryd/kratos:v1.1.0");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_FALSE(Contains(runner_.Argvs(), "podman rm"));
}

TEST_F(ComposeRuntimeTest, RolloutFailsWhenComposeCreatedNothing) {
  runner_.On({"podman", "image", "exists"}, 0);
  runner_.On({"podman", "rm"}, 0);
  runner_.On({"podman-compose"}, 0, "", "Error: cannot set multiple networks\nexit code: 125\n");
  runner_.On({"podman", "inspect"}, 125, "", "Error: no such container ciam-kratos");
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  Status s = rt->Rollout(ref_, "oryd/kratos:v1.1.0");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot set multiple networks"), std::string::npos) << s.ToString();
}

TEST_F(ComposeRuntimeTest, ObserveRunsTheHealthCheckWhenOneIsConfigured) {
  const std::string starting = R"([{"ImageName":"a:1","State":{"Status":"running","Running":true,
      "Health":{"Status":"starting"}},"RestartCount":0,"Config":{"Healthcheck":{"Test":["CMD","true"]}}}])";
  runner_.On({"podman", "inspect"}, 0, starting);
  runner_.On({"podman", "healthcheck", "run"}, 0);
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  auto st = rt->Observe(ref_);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(Contains(runner_.Argvs(), "podman healthcheck run ciam-kratos"));
  EXPECT_EQ(runner_.calls.size(), 3u);  // inspect, healthcheck, inspect
}

TEST_F(ComposeRuntimeTest, ObserveOfAMissingContainerSaysSo) {
  runner_.On({"podman", "inspect"}, 125, "", "Error: inspecting object: no such container ciam-kratos");
  auto rt = NewComposeWorkloadRuntime(&runner_, cfg_);
  auto st = rt->Observe(ref_);
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->exists);
}

// ---- VerifyRunning --------------------------------------------------------------------------

// A workload whose observations follow a script (the last one repeats).
class ScriptedWorkload : public WorkloadRuntime {
 public:
  std::deque<WorkloadStatus> script;
  std::string logs = "booting\nschema mismatch: 2 migrations pending\n";
  int observes = 0;
  Result<std::string> DeclaredImage(const WorkloadRef&) override { return std::string("a:1"); }
  Status SetDeclaredImage(const WorkloadRef&, const std::string&, const std::string&) override { return Status::Ok(); }
  Status Rollout(const WorkloadRef&, const std::string&) override { return Status::Ok(); }
  Result<WorkloadStatus> Observe(const WorkloadRef&) override {
    ++observes;
    WorkloadStatus s = script.front();
    if (script.size() > 1) script.pop_front();
    return s;
  }
  Result<std::string> Logs(const WorkloadRef&, int) override { return logs; }
  Result<BumpPreflight> PreflightBump(const WorkloadRef&, const std::string& target, bool) override {
    return BumpPreflight{"a:1", target, target, "", true, false};
  }
};

WorkloadStatus Running(const std::string& image, const std::string& health = "", int restarts = 0) {
  WorkloadStatus s;
  s.exists = true;
  s.running = true;
  s.state = "running";
  s.image = image;
  s.health = health;
  s.restart_count = restarts;
  return s;
}

class VerifyTest : public ::testing::Test {
 protected:
  VerifyTest() : clock_(Clock::TimePoint(std::chrono::seconds(1700000000))) {
    ref_.kind = "ComposeService";
    ref_.name = "ciam-kratos";
  }
  FakeClock clock_;
  WorkloadRef ref_;
  ScriptedWorkload wl_;
};

TEST_F(VerifyTest, RunningTheExpectedImageThroughTheSettleTimeSucceeds) {
  wl_.script = {Running("localhost/oryd/kratos:v1.2.0")};
  Status s = VerifyRunning(&wl_, ref_, "oryd/kratos:v1.2.0", std::chrono::milliseconds(5000), &clock_);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(wl_.observes, 5);  // polled across the settle time, not once
}

TEST_F(VerifyTest, ExitDuringSettleFailsWithLogsAndAdvice) {
  WorkloadStatus exited = Running("localhost/oryd/kratos:v1.2.0");
  exited.running = false;
  exited.state = "exited";
  exited.exit_code = 1;
  wl_.script = {Running("localhost/oryd/kratos:v1.2.0"), Running("localhost/oryd/kratos:v1.2.0"), exited};
  Status s = VerifyRunning(&wl_, ref_, "oryd/kratos:v1.2.0", std::chrono::milliseconds(5000), &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_NE(s.message().find("exit code 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("schema mismatch: 2 migrations pending"), std::string::npos);
  EXPECT_NE(s.message().find("Next:"), std::string::npos);
  // After rollbackImage the container runs the old image: its logs are not the failed one's, so
  // the advice points at the lines kept in status, and says what makes the controller try again.
  EXPECT_EQ(s.message().find("podman logs"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("kept in the resource's status"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("olympus.io/retry"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("schema-upgrade apply"), std::string::npos) << s.message();
  EXPECT_EQ(wl_.observes, 3);
}

TEST_F(VerifyTest, WrongImageFailsAtOnce) {
  wl_.script = {Running("localhost/oryd/kratos:v1.1.0")};
  Status s = VerifyRunning(&wl_, ref_, "oryd/kratos:v1.2.0", std::chrono::milliseconds(5000), &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("expected oryd/kratos:v1.2.0"), std::string::npos);
  EXPECT_EQ(wl_.observes, 1);
}

TEST_F(VerifyTest, RestartWhileSettlingFails) {
  wl_.script = {Running("a:1", "", 0), Running("a:1", "", 1)};
  Status s = VerifyRunning(&wl_, ref_, "a:1", std::chrono::milliseconds(5000), &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("restarted"), std::string::npos);
}

TEST_F(VerifyTest, WaitsForHealthyAfterSettleAndFailsOnUnhealthy) {
  wl_.script = {Running("a:1", "starting"), Running("a:1", "starting"), Running("a:1", "starting"),
                Running("a:1", "starting"), Running("a:1", "healthy")};
  VerifyOptions o;
  o.settle = std::chrono::milliseconds(2000);
  o.poll_interval = std::chrono::milliseconds(1000);
  EXPECT_TRUE(VerifyRunning(&wl_, ref_, "a:1", o, &clock_).ok());
  EXPECT_EQ(wl_.observes, 5);

  wl_.script = {Running("a:1", "starting"), Running("a:1", "unhealthy")};
  Status s = VerifyRunning(&wl_, ref_, "a:1", o, &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unhealthy"), std::string::npos);
}

TEST_F(VerifyTest, HealthStuckStartingTimesOut) {
  wl_.script = {Running("a:1", "starting")};
  VerifyOptions o;
  o.settle = std::chrono::milliseconds(1000);
  o.health_grace = std::chrono::milliseconds(3000);
  Status s = VerifyRunning(&wl_, ref_, "a:1", o, &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kTimeout);
}

TEST_F(VerifyTest, MissingContainerFails) {
  wl_.script = {WorkloadStatus{}};
  Status s = VerifyRunning(&wl_, ref_, "a:1", std::chrono::milliseconds(1000), &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no container"), std::string::npos);
}

}  // namespace
}  // namespace su
