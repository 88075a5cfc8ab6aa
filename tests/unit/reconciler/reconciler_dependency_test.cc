// spec.dependsOn in the reconciler, with fakes: a resource waits (WaitingForDependency, requeued,
// nothing touched) until each dependency is Ready at its current target; one Ready at an older
// target, or missing, keeps it waiting; a cycle is a validation error on each member; `plan`
// shows each dependency and whether it is satisfied. Also the pure helpers of dependencies.h.
#include <gtest/gtest.h>

#include "reconcilers/schemaupgrade/dependencies.h"
#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing: " << (needle) << "\nin: " << (haystack)

SchemaUpgrade Named(const std::string& name, const std::string& target, std::vector<std::string> deps = {}) {
  SchemaUpgrade su;
  su.name = name;
  su.namespace_ = "ciam";
  su.generation = 2;
  su.service = name;
  su.target_version = target;
  su.migrations.engine = "sql";
  for (auto& d : deps) su.depends_on.push_back({d});
  su.spec_hash = ComputeSpecHash(su);
  return su;
}

// The status a pass leaves for `su` once it is Ready at its target.
ResourceStatus ReadyStatus(const SchemaUpgrade& su, Clock::TimePoint now) {
  ResourceStatus st;
  st.resource = su.Key();
  st.spec_hash = StatusSpecToken(su);
  st.target_version = su.target_version;
  st.current_version = "20240201000003";
  st.phase = Phase::kSucceeded;
  st.observed_generation = su.generation;
  SetCondition(&st, "Ready", "True", "Succeeded", "at target", su.generation, now);
  return st;
}

class ReconcilerDependencyTest : public ReconcilerFixture {
 protected:
  void SetUp() override {
    ReconcilerFixture::SetUp();
    // The fixture's resource, renamed: athena after kratos.
    su_.name = "athena";
    su_.depends_on = {{"kratos"}};
    kratos_ = Named("kratos", "v3.0.0");
  }

  ReconcileOutcome RunWith(const std::vector<SchemaUpgrade>& others, const ReconcileOptions& options = {}) {
    StaticResourceLookup lookup(others);
    ReconcilerDeps d = Deps();
    d.resources = &lookup;
    Reconciler r(d);
    return r.Reconcile(su_, options);
  }

  SchemaUpgrade kratos_;
};

TEST_F(ReconcilerDependencyTest, WaitsUntilTheDependencyIsReadyAtItsTargetThenRuns) {
  ResourceStatus migrating = ReadyStatus(kratos_, clock_.Now());
  migrating.phase = Phase::kMigrating;
  SetCondition(&migrating, "Ready", "False", "Migrating", "applying", kratos_.generation, clock_.Now());
  ASSERT_TRUE(store_->Save(kratos_.Key(), migrating).ok());

  auto out = RunWith({kratos_});

  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "WaitingForDependency");
  EXPECT_EQ(out.requeue_after, std::chrono::milliseconds(5000));  // a requeue, not a loop in the pass
  EXPECT_FALSE(out.terminal);
  ExpectWorldUntouched();
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kWaiting);
  EXPECT_EQ(Cond(st, "Ready"), "False/WaitingForDependency");
  EXPECT_EQ(Cond(st, "Reconciling"), "True/WaitingForDependency");
  EXPECT_HAS(st.message, "waiting for SchemaUpgrade ciam/kratos to be Ready at its target v3.0.0");
  EXPECT_HAS(st.message, "Migrating");

  // kratos reaches its target: the next pass of athena goes ahead.
  ASSERT_TRUE(store_->Save(kratos_.Key(), ReadyStatus(kratos_, clock_.Now())).ok());
  out = RunWith({kratos_});
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(world_.applies, 1);
  EXPECT_EQ(world_.pending.size(), 0u);
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerDependencyTest, ADependencyReadyAtAnOldTargetStillBlocks) {
  SchemaUpgrade old_kratos = Named("kratos", "v2.0.0");
  ASSERT_TRUE(store_->Save(kratos_.Key(), ReadyStatus(old_kratos, clock_.Now())).ok());  // Ready at v2.0.0

  auto out = RunWith({kratos_});  // kratos's spec now says v3.0.0

  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  ExpectWorldUntouched();
  EXPECT_HAS(Stored().message, "ciam/kratos to be Ready at its target v3.0.0");
  EXPECT_HAS(Stored().message, "its status is for target v2.0.0");

  // Same target but a status of an older spec (another generation's hash) blocks too.
  SchemaUpgrade edited = kratos_;
  edited.image = "localhost/kratos:custom";
  edited.spec_hash = ComputeSpecHash(edited);
  ASSERT_TRUE(store_->Save(kratos_.Key(), ReadyStatus(kratos_, clock_.Now())).ok());
  EXPECT_EQ(RunWith({edited}).kind, OutcomeKind::kWaiting);
  ExpectWorldUntouched();
}

TEST_F(ReconcilerDependencyTest, AMissingDependencyIsAWaitWithAClearMessageNotAnError) {
  auto out = RunWith({});

  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_FALSE(out.terminal);
  ExpectWorldUntouched();
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kWaiting);
  EXPECT_EQ(Cond(st, "Stalled"), "False/WaitingForDependency");
  EXPECT_HAS(st.message, "SchemaUpgrade ciam/kratos (spec.dependsOn[0].name), which does not exist");
  EXPECT_HAS(st.message, "create it, or remove the entry");
}

TEST_F(ReconcilerDependencyTest, NothingToDoMeansNothingToWaitFor) {
  world_.pending.clear();
  rt_.declared = rt_.running_image = kNewImage;
  su_.target_version = "v1.2.0";
  auto out = RunWith({});
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(Stored().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerDependencyTest, ACycleIsReportedOnEachMemberNamingItAndClearsWhenBroken) {
  SchemaUpgrade kratos = Named("kratos", "v3.0.0", {"hydra"});
  SchemaUpgrade hydra = Named("hydra", "v2.0.0", {"athena"});
  SchemaUpgrade athena = su_;
  const int connects_before = db_.connects();

  auto out = RunWith({kratos, hydra, athena});

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, "DependencyCycle");
  EXPECT_EQ(db_.connects(), connects_before);  // found before anything connects
  ExpectWorldUntouched();
  EXPECT_EQ(Cond(Stored(), "Stalled"), "True/DependencyCycle");
  EXPECT_HAS(Stored().last_error, "spec.dependsOn: dependency cycle ciam/athena -> ciam/kratos -> ciam/hydra -> ciam/athena");
  EXPECT_HAS(Stored().last_error, "remove one of the dependsOn entries");

  // Each member names the same cycle from itself.
  su_ = kratos;
  out = RunWith({kratos, hydra, athena});
  EXPECT_EQ(out.reason, "DependencyCycle");
  EXPECT_HAS(out.result.message(), "ciam/kratos -> ciam/hydra -> ciam/athena -> ciam/kratos");

  // hydra's edit breaks the cycle: athena's unchanged spec is looked at again and now just waits.
  su_ = athena;
  SchemaUpgrade hydra_fixed = Named("hydra", "v2.0.0");
  out = RunWith({kratos, hydra_fixed, athena});
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, "WaitingForDependency");
  EXPECT_EQ(Cond(Stored(), "Stalled"), "False/WaitingForDependency");
}

TEST_F(ReconcilerDependencyTest, PlanShowsEachDependencyAndWhetherItIsSatisfied) {
  su_.depends_on = {{"kratos"}, {"hydra"}};
  SchemaUpgrade hydra = Named("hydra", "v2.0.0");
  ASSERT_TRUE(store_->Save(hydra.Key(), ReadyStatus(hydra, clock_.Now())).ok());
  ReconcileOptions dry;
  dry.dry_run = true;

  auto out = RunWith({kratos_, hydra}, dry);

  ASSERT_TRUE(out.plan.has_value());
  ASSERT_EQ(out.plan->dependencies.size(), 2u);
  EXPECT_EQ(out.plan->dependencies[0].key, "ciam/kratos");
  EXPECT_FALSE(out.plan->dependencies[0].satisfied);
  EXPECT_EQ(out.plan->dependencies[0].target, "v3.0.0");
  EXPECT_TRUE(out.plan->dependencies[1].satisfied);
  const std::string text = RenderPlanText(*out.plan);
  EXPECT_HAS(text, "Depends on:\n  waiting ciam/kratos at v3.0.0: no status yet\n  ok      ciam/hydra at v2.0.0: Ready at v2.0.0\n");
  const std::string json = RenderPlanJson(*out.plan);
  EXPECT_HAS(json, "\"dependsOn\":[{");
  EXPECT_HAS(json, "\"satisfied\":false");
  ExpectWorldUntouched();
}

TEST(DependencyCycleTest, OnlyCyclesThroughTheResourceAreItsOwn) {
  SchemaUpgrade a = Named("a", "v1", {"b"});
  SchemaUpgrade b = Named("b", "v1", {"c"});
  SchemaUpgrade c = Named("c", "v1", {"b"});  // b <-> c; a only leads into it
  SchemaUpgrade d = Named("d", "v1", {"missing", "a"});
  StaticResourceLookup lookup({a, b, c, d});
  EXPECT_TRUE(FindDependencyCycle(a, &lookup).empty());
  EXPECT_TRUE(FindDependencyCycle(d, &lookup).empty());
  EXPECT_EQ(FormatCycle(FindDependencyCycle(b, &lookup)), "ciam/b -> ciam/c -> ciam/b");
  EXPECT_EQ(FormatCycle(FindDependencyCycle(c, &lookup)), "ciam/c -> ciam/b -> ciam/c");
  // The resource's own (newest) spec counts, not the lookup's copy of it.
  SchemaUpgrade c_fixed = Named("c", "v1");
  EXPECT_TRUE(FindDependencyCycle(c_fixed, &lookup).empty());
  // Another namespace's "b" is another resource.
  SchemaUpgrade other = Named("c", "v1", {"b"});
  other.namespace_ = "billing";
  EXPECT_TRUE(FindDependencyCycle(other, &lookup).empty());
  EXPECT_TRUE(FindDependencyCycle(b, nullptr).empty());
}

TEST(DependencyOrderTest, ApplyRunsDependenciesFirstAndKeepsTheGivenOrderOtherwise) {
  std::vector<SchemaUpgrade> in = {Named("athena", "v1", {"kratos"}), Named("hydra", "v1"), Named("kratos", "v1", {"hydra"}),
                                   Named("zeus", "v1", {"nobody"}), Named("x", "v1", {"y"}), Named("y", "v1", {"x"})};
  std::vector<std::string> names;
  for (const auto& s : OrderByDependencies(in)) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"hydra", "kratos", "athena", "zeus", "y", "x"}));
}

TEST(DependencyReadyTest, ReadyMeansThisSpecsStatusWithReadyTrueAtItsGeneration) {
  SchemaUpgrade k = Named("kratos", "v3");
  auto now = Clock::TimePoint{};
  std::string detail;
  EXPECT_FALSE(ReadyAtTarget(k, std::nullopt, &detail));
  EXPECT_EQ(detail, "no status yet");
  EXPECT_TRUE(ReadyAtTarget(k, ReadyStatus(k, now), &detail));
  EXPECT_EQ(detail, "Ready at v3");
  ResourceStatus unknown = ReadyStatus(k, now);  // database down since: readiness unknown
  SetCondition(&unknown, "Ready", "Unknown", "DatabaseUnavailable", "down", k.generation, now);
  EXPECT_FALSE(ReadyAtTarget(k, unknown, &detail));
  EXPECT_HAS(detail, "DatabaseUnavailable");
  SchemaUpgrade newer = k;
  newer.generation = 3;  // Kubernetes: a new generation not yet observed
  EXPECT_FALSE(ReadyAtTarget(newer, ReadyStatus(k, now), &detail));
}

}  // namespace
}  // namespace su::testing
