// EvaluateRollout: kubectl's rollout status rules, case by case, on Deployment and StatefulSet JSON.
#include <gtest/gtest.h>

#include "reconcilers/runtimes/kubernetes/kube_workload.h"

namespace su {
namespace {

std::string Deploy(const std::string& spec_extra, const std::string& status, int generation = 2) {
  return R"({"metadata":{"name":"web","namespace":"ns","generation":)" + std::to_string(generation) +
         R"(},"spec":{"replicas":3,)" + spec_extra +
         R"("template":{"spec":{"containers":[{"name":"app","image":"app:2"},{"name":"log","image":"fluent:1"}]}}},"status":)" +
         status + "}";
}
std::string Sts(const std::string& strategy, const std::string& status) {
  return R"({"metadata":{"name":"db","namespace":"ns","generation":2},"spec":{"replicas":3,)" + strategy +
         R"("template":{"spec":{"containers":[{"name":"app","image":"app:2"}]}}},"status":)" + status + "}";
}
RolloutView D(const std::string& spec_extra, const std::string& status, int generation = 2) {
  auto v = EvaluateRollout("Deployment", Deploy(spec_extra, status, generation), "app");
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : RolloutView{};
}
RolloutView S(const std::string& strategy, const std::string& status) {
  auto v = EvaluateRollout("StatefulSet", Sts(strategy, status), "");
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : RolloutView{};
}

TEST(EvaluateRollout, DeploymentWaitsUntilTheControllerObservedTheNewGeneration) {
  auto v = D("", R"({"observedGeneration":1,"replicas":3,"updatedReplicas":3,"availableReplicas":3})");
  EXPECT_EQ(v.state, "progressing");
  EXPECT_EQ(v.message, "Waiting for deployment spec update to be observed...");
  EXPECT_EQ(v.image, "app:2");
}

TEST(EvaluateRollout, DeploymentCountsUpdatedOldAndAvailableReplicasInKubectlsOrder) {
  EXPECT_EQ(D("", R"({"observedGeneration":2,"replicas":4,"updatedReplicas":2,"availableReplicas":3})").message,
            "Waiting for deployment \"web\" rollout to finish: 2 out of 3 new replicas have been updated...");
  EXPECT_EQ(D("", R"({"observedGeneration":2,"replicas":4,"updatedReplicas":3,"availableReplicas":3})").message,
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...");
  EXPECT_EQ(D("", R"({"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":2})").message,
            "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...");
  auto done = D("", R"({"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":3})");
  EXPECT_EQ(done.state, "complete");
  EXPECT_EQ(done.message, "deployment \"web\" successfully rolled out");
}

TEST(EvaluateRollout, ProgressDeadlineExceededIsAFailureOnceObserved) {
  std::string conds = R"("conditions":[{"type":"Available","status":"False","reason":"MinimumReplicasUnavailable"},
    {"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet \"web-2\" has timed out progressing."}])";
  auto v = D("", R"({"observedGeneration":2,"replicas":4,"updatedReplicas":1,"availableReplicas":3,)" + conds + "}");
  EXPECT_EQ(v.state, "failed");
  EXPECT_NE(v.message.find("exceeded its progress deadline"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("has timed out progressing"), std::string::npos) << v.message;
  // A stale verdict about an older generation is not this rollout's.
  EXPECT_EQ(D("", R"({"observedGeneration":1,)" + conds + "}").state, "progressing");
}

TEST(EvaluateRollout, APausedDeploymentThatHasNotFinishedSaysPaused) {
  auto v = D(R"("paused":true,)", R"({"observedGeneration":2,"replicas":3,"updatedReplicas":0,"availableReplicas":3})");
  EXPECT_EQ(v.state, "paused");
  EXPECT_NE(v.message.find("is paused"), std::string::npos) << v.message;
  EXPECT_EQ(D(R"("paused":true,)", R"({"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":3})").state,
            "complete");
}

TEST(EvaluateRollout, ReplicasDefaultToOneAndTheNamedContainerIsRead) {
  std::string json = R"({"metadata":{"name":"w","generation":1},"spec":{"template":{"spec":{"containers":[
      {"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}},"status":{"observedGeneration":1,"replicas":1,
      "updatedReplicas":1,"availableReplicas":1}})";
  auto v = EvaluateRollout("Deployment", json, "b");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->state, "complete");
  EXPECT_EQ(v->image, "b:1");
  auto missing = EvaluateRollout("Deployment", json, "c");
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("no container \"c\""), std::string::npos);
}

TEST(EvaluateRollout, StatefulSetWaitsForObservationReadinessAndRevision) {
  EXPECT_EQ(S("", R"({"observedGeneration":0})").message, "Waiting for statefulset spec update to be observed...");
  EXPECT_EQ(S("", R"({"observedGeneration":2,"readyReplicas":2})").message, "Waiting for 1 pods to be ready...");
  auto rolling = S("", R"({"observedGeneration":2,"readyReplicas":3,"updatedReplicas":1,"currentRevision":"db-1","updateRevision":"db-2"})");
  EXPECT_EQ(rolling.state, "progressing");
  EXPECT_EQ(rolling.message, "waiting for statefulset rolling update to complete 1 pods at revision db-2...");
  auto done = S("", R"({"observedGeneration":2,"readyReplicas":3,"updatedReplicas":3,"currentReplicas":3,"currentRevision":"db-2","updateRevision":"db-2"})");
  EXPECT_EQ(done.state, "complete");
}

TEST(EvaluateRollout, StatefulSetPartitionCountsOnlyTheOrdinalsAboveIt) {
  std::string part = R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}},)";
  EXPECT_EQ(S(part, R"({"observedGeneration":2,"readyReplicas":3,"updatedReplicas":0,"currentRevision":"a","updateRevision":"b"})").message,
            "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated...");
  EXPECT_EQ(S(part, R"({"observedGeneration":2,"readyReplicas":3,"updatedReplicas":1,"currentRevision":"a","updateRevision":"b"})").state,
            "complete");
  EXPECT_EQ(S(R"("updateStrategy":{"type":"OnDelete"},)", R"({"observedGeneration":2})").state, "failed");
}

}  // namespace
}  // namespace su
