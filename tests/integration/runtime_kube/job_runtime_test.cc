// The migration Job runtime (reconcilers/runtimes/kubernetes/kube_job.h) against the API server
// emulator with its Job controller and simulated kubelet (image rules decide what a container
// does: exit with a code, print log lines, keep running, fail to pull). Proves: a Job that
// succeeds (output from pods/log, the Job removed), one that fails (exit code, log lines, the Job
// kept and named), adoption of a Job of the same step already running (waited for, never
// duplicated), a retry replacing the failed Job under the same name, a pod that cannot start, and
// a cancelled wait leaving the Job running.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include <atomic>
#include <mutex>
#include <fstream>
#include <thread>

#include "kube/api.h"
#include "reconcilers/base/clock.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using su::testing::KubeEmulator;
using web::json::value;

class JobRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu_ = new KubeEmulator();
    emu_->Start();
  }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(emu_, nullptr);
    api_ = emu_->Client();
    ASSERT_TRUE(api_);
  }

  // The simulated kubelet's image rules (POST /emulator/images).
  void Rules(const std::string& rules_json) {
    std::string path = tmp_.Path("rules.json");
    std::ofstream(path) << R"({"rules":)" << rules_json << "}";
    emu_->Kubectl({"create", "--raw", "/emulator/images", "-f", path});
  }

  KubeJobOptions Options(const std::string& name) {
    KubeJobOptions o;
    o.api = api_.get();
    o.ns = "default";
    o.name = name;
    // No owner: the emulator's garbage collector would delete a Job whose owner does not exist
    // (ory_job_test.cc runs with a real SchemaUpgrade as the owner).
    o.uid = "";
    o.poll_interval = std::chrono::milliseconds(50);
    o.start_grace = std::chrono::seconds(2);
    return o;
  }

  static ContainerRunSpec Spec(const std::string& image, const std::string& word = "up") {
    ContainerRunSpec s;
    s.image = image;
    s.entrypoint = {"kratos"};
    s.args = {"migrate", "sql", word, "-e", "--yes"};
    s.env_from_secret["DSN"] = {"kratos-db", "dsn"};
    return s;
  }

  // Jobs of resource `name` as the API has them.
  std::vector<value> Jobs(const std::string& name) {
    kube::ListOptions lo;
    lo.label_selector = std::string(kJobResourceLabel) + "=" + name;
    auto l = api_->List(kube::ResourcePath{kJobs, "default"}, lo);
    EXPECT_TRUE(l.ok()) << l.error().Describe();
    std::vector<value> out;
    if (l.ok()) {
      for (const auto& i : l->items) out.push_back(value::parse(i));
    }
    return out;
  }

  // Waits (a condition, bounded) until pred holds.
  static bool WaitFor(const std::function<bool()>& pred, std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pred();
  }

  static KubeEmulator* emu_;
  std::unique_ptr<kube::KubeApi> api_;
  su::testing::TempDir tmp_;
};
KubeEmulator* JobRuntimeTest::emu_ = nullptr;

TEST_F(JobRuntimeTest, SucceedingJobReturnsItsOutputAndIsRemoved) {
  Rules(R"([{"image": "kratos-ok", "behavior": "exit", "exitCode": 0,
             "log": "Applying migration 20240101000001 create_identities\nSuccessfully applied all migrations\n"}])");
  auto rt = NewKubeJobRuntime(Options("ok"));
  ContainerRunSpec spec = Spec("localhost/kratos-ok:v1.2.0");
  std::string streamed;
  spec.on_output = [&](const std::string& chunk, bool) { streamed += chunk; };
  auto r = rt->RunOnce(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_NE(r->out.find("Applying migration 20240101000001 create_identities"), std::string::npos) << r->out;
  EXPECT_NE(streamed.find("Successfully applied all migrations"), std::string::npos) << streamed;
  EXPECT_TRUE(WaitFor([&] { return Jobs("ok").empty(); })) << "a succeeded Job is deleted once read";
}

TEST_F(JobRuntimeTest, FailingJobReportsExitCodeAndLogLinesAndStays) {
  Rules(R"([{"image": "kratos-bad", "behavior": "exit", "exitCode": 3,
             "log": "Applying migration 20240101000002 add_column\nERROR: column \"x\" of relation \"identities\" already exists (SQLSTATE 42701)\n"}])");
  KubeJobOptions o = Options("bad");
  o.ttl_after_finished = std::chrono::seconds(3600);
  auto rt = NewKubeJobRuntime(o);
  ContainerRunSpec spec = Spec("localhost/kratos-bad:v1.2.0");
  auto r = rt->RunOnce(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->Succeeded());
  EXPECT_NE(r->out.find("already exists (SQLSTATE 42701)"), std::string::npos) << r->out;
  const std::string name = MigrationJobName(o, spec);
  EXPECT_NE(r->err.find("job default/" + name + " failed (BackoffLimitExceeded"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("kubectl logs job/" + name + " -n default"), std::string::npos) << r->err;
  EXPECT_NE(r->Tail(20).find("SQLSTATE 42701"), std::string::npos);
  auto jobs = Jobs("bad");
  ASSERT_EQ(jobs.size(), 1u) << "a failed Job stays to be read";
  EXPECT_EQ(jobs[0].at("metadata").at("name").as_string(), name);
  EXPECT_EQ(jobs[0].at("spec").at("backoffLimit").as_integer(), 0);
  EXPECT_EQ(jobs[0].at("spec").at("ttlSecondsAfterFinished").as_integer(), 3600);

  // The retry (after the cause is fixed): the failed Job is replaced under the same name.
  const std::string old_uid = jobs[0].at("metadata").at("uid").as_string();
  Rules(R"([{"image": "kratos-bad", "behavior": "exit", "exitCode": 0, "log": "Successfully applied\n"}])");
  auto again = rt->RunOnce(spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->exit_code, 0) << again->out;
  EXPECT_NE(again->out.find("Successfully applied"), std::string::npos) << again->out;
  EXPECT_TRUE(WaitFor([&] {
    auto left = Jobs("bad");
    return left.empty() || left[0].at("metadata").at("uid").as_string() != old_uid;
  }));
}

TEST_F(JobRuntimeTest, RunningJobOfTheSameStepIsAdoptedNotDuplicated) {
  Rules(R"([{"image": "kratos-slow", "behavior": "run", "log": "Applying migration 20240101000003 big_backfill\n"}])");
  KubeJobOptions o = Options("slow");
  ContainerRunSpec spec = Spec("localhost/kratos-slow:v1.2.0");
  // A killed controller's Job: created with the same name, still running.
  auto body = BuildMigrationJob(o, spec, "");
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  auto made = api_->Create(kube::ResourcePath{kJobs, "default"}, *body);
  ASSERT_TRUE(made.ok()) << made.error().Describe();
  const std::string uid = value::parse(*made).at("metadata").at("uid").as_string();
  ASSERT_TRUE(WaitFor([&] {
    auto jobs = Jobs("slow");
    // A Job just created may have no status yet (the emulator's controller has not looked at it).
    return jobs.size() == 1 && jobs[0].has_field("status") && jobs[0].at("status").has_field("active") &&
           jobs[0].at("status").at("active").as_integer() == 1;
  }));

  auto rt = NewKubeJobRuntime(o);
  std::atomic<bool> done{false};
  Result<ProcessResult> r = Status::Failed("not run");
  std::string streamed;
  std::mutex mu;
  spec.on_output = [&](const std::string& chunk, bool) {
    std::lock_guard<std::mutex> l(mu);
    streamed += chunk;
  };
  std::thread t([&] {
    r = rt->RunOnce(spec);
    done = true;
  });
  // It waits for the running Job (its log streamed) and creates no other.
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return streamed.find("big_backfill") != std::string::npos;
  }));
  EXPECT_FALSE(done.load());
  auto jobs = Jobs("slow");
  EXPECT_EQ(jobs.size(), 1u);
  if (!jobs.empty()) {
    EXPECT_EQ(jobs[0].at("metadata").at("uid").as_string(), uid);
  }

  Rules(R"([{"image": "kratos-slow", "behavior": "exit", "exitCode": 0}])");  // the migrator finishes
  t.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_NE(r->out.find("big_backfill"), std::string::npos) << r->out;
}

TEST_F(JobRuntimeTest, PodThatCannotPullItsImageFailsTheRunAndTheJobGoes) {
  Rules(R"([{"image": "kratos-gone", "behavior": "missing"}])");
  auto rt = NewKubeJobRuntime(Options("gone"));
  auto r = rt->RunOnce(Spec("localhost/kratos-gone:v9.9.9"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  EXPECT_NE(r.status().message().find("ImagePullBackOff"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("localhost/kratos-gone:v9.9.9"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return Jobs("gone").empty(); }));
}

TEST_F(JobRuntimeTest, CancelledWaitLeavesTheJobRunningForTheNextRun) {
  Rules(R"([{"image": "kratos-long", "behavior": "run"}])");
  auto rt = NewKubeJobRuntime(Options("long"));
  ContainerRunSpec spec = Spec("localhost/kratos-long:v1.2.0");
  std::atomic<bool> stop{false};
  spec.cancelled = [&] { return stop.load(); };
  Result<ProcessResult> r = Status::Failed("not run");
  std::thread t([&] { r = rt->RunOnce(spec); });
  bool created = WaitFor([&] { return Jobs("long").size() == 1; });
  stop = true;
  t.join();
  ASSERT_TRUE(created);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCancelled);
  auto jobs = Jobs("long");
  ASSERT_EQ(jobs.size(), 1u) << "a shutdown does not stop the migrator";

  spec.cancelled = nullptr;
  Rules(R"([{"image": "kratos-long", "behavior": "exit", "exitCode": 0}])");
  auto resumed = NewKubeJobRuntime(Options("long"))->RunOnce(spec);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->exit_code, 0);
}

TEST_F(JobRuntimeTest, JobOfTheSameNameThatIsNotOursIsRefused) {
  KubeJobOptions o = Options("foreign");
  ContainerRunSpec spec = Spec("localhost/kratos-ok:v1.2.0");
  std::string name = MigrationJobName(o, spec);
  auto made = api_->Create(kube::ResourcePath{kJobs, "default"},
                           R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name +
                               R"("},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"x","image":"localhost/kratos-ok:v1"}]}}}})");
  ASSERT_TRUE(made.ok()) << made.error().Describe();
  auto r = NewKubeJobRuntime(o)->RunOnce(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailed);
  EXPECT_NE(r.status().message().find("was not created by this controller"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace su
