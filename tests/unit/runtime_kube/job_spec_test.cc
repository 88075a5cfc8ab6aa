// BuildMigrationJob / MigrationJobName: what a migration Job inherits from the workload's pod
// template, the restricted Pod Security defaults (and the template's explicit choices winning),
// the DSN only as a Secret reference, and names that identify what runs.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include "reconcilers/runtimes/kubernetes/kube_job.h"

namespace su {
namespace {

using web::json::value;

// A Deployment as an app team writes it: a sidecar first, the app's container second, a config
// file from a ConfigMap, a CA bundle, an unrelated cache volume, its own DSN env (a Secret ref).
const char* kDeployment = R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "kratos", "namespace": "ciam"},
  "spec": {"template": {"metadata": {"labels": {"app": "kratos"}}, "spec": {
    "serviceAccountName": "kratos",
    "imagePullSecrets": [{"name": "registry"}],
    "nodeSelector": {"pool": "apps"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "apps", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
      {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
    "securityContext": {"runAsUser": 10000, "fsGroup": 10000},
    "volumes": [{"name": "config", "configMap": {"name": "kratos-config"}},
                {"name": "ca", "secret": {"secretName": "ca-bundle"}},
                {"name": "cache", "emptyDir": {}}],
    "containers": [
      {"name": "envoy", "image": "envoyproxy/envoy:v1.30.0", "volumeMounts": [{"name": "cache", "mountPath": "/c"}]},
      {"name": "kratos", "image": "oryd/kratos:v1.1.0",
       "env": [{"name": "DSN", "valueFrom": {"secretKeyRef": {"name": "old-dsn", "key": "dsn"}}},
               {"name": "LOG_LEVEL", "value": "debug"}],
       "envFrom": [{"configMapRef": {"name": "kratos-env"}}],
       "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}, {"name": "ca", "mountPath": "/etc/ca"}],
       "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m"}},
       "imagePullPolicy": "IfNotPresent"}]}}}})";

KubeJobOptions Options() {
  KubeJobOptions o;
  o.ns = "ciam";
  o.name = "kratos";
  o.uid = "0b5e9f9c-1111-2222-3333-444455556666";
  o.workload.kind = "Deployment";
  o.workload.name = "kratos";
  o.workload.container = "kratos";
  o.ttl_after_finished = std::chrono::seconds(3600);
  o.default_deadline = std::chrono::seconds(1800);
  return o;
}

ContainerRunSpec Spec() {
  ContainerRunSpec s;
  s.image = "oryd/kratos:v1.2.0";
  s.entrypoint = {"kratos"};
  s.args = {"migrate", "sql", "up", "-e", "--yes", "-c", "/etc/config/kratos.yml"};
  s.env_from_secret["DSN"] = {"kratos-db", "dsn"};
  return s;
}

value Build(const KubeJobOptions& o, const ContainerRunSpec& s, const std::string& workload = kDeployment) {
  auto j = BuildMigrationJob(o, s, workload);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? value::parse(*j) : value::object();
}

const value& Pod(const value& job) { return job.at("spec").at("template").at("spec"); }
const value& Container(const value& job) { return Pod(job).at("containers").at(0); }

TEST(MigrationJobTest, JobSpecHasTheControllersRetryContractAndOwner) {
  value job = Build(Options(), Spec());
  EXPECT_EQ(job.at("kind").as_string(), "Job");
  EXPECT_EQ(job.at("metadata").at("name").as_string(), MigrationJobName(Options(), Spec()));
  EXPECT_EQ(job.at("metadata").at("namespace").as_string(), "ciam");
  const value& spec = job.at("spec");
  EXPECT_EQ(spec.at("backoffLimit").as_integer(), 0);
  EXPECT_EQ(spec.at("activeDeadlineSeconds").as_integer(), 1800);
  EXPECT_EQ(spec.at("ttlSecondsAfterFinished").as_integer(), 3600);
  EXPECT_EQ(Pod(job).at("restartPolicy").as_string(), "Never");
  const value& owner = job.at("metadata").at("ownerReferences").at(0);
  EXPECT_EQ(owner.at("apiVersion").as_string(), "olympus.io/v1alpha1");
  EXPECT_EQ(owner.at("kind").as_string(), "SchemaUpgrade");
  EXPECT_EQ(owner.at("name").as_string(), "kratos");
  EXPECT_EQ(owner.at("uid").as_string(), Options().uid);
  EXPECT_TRUE(owner.at("controller").as_bool());
  for (const value* labels : {&job.at("metadata").at("labels"), &job.at("spec").at("template").at("metadata").at("labels")}) {
    EXPECT_EQ(labels->at(kJobManagedByLabel).as_string(), "schema-upgrade-operator");
    EXPECT_EQ(labels->at(kJobResourceLabel).as_string(), "kratos");
    EXPECT_EQ(labels->at(kJobResourceUidLabel).as_string(), Options().uid);
  }
  const value& c = Container(job);
  EXPECT_EQ(c.at("name").as_string(), "migrate");
  EXPECT_EQ(c.at("image").as_string(), "oryd/kratos:v1.2.0");
  EXPECT_EQ(c.at("command").serialize(), R"(["kratos"])");
  EXPECT_EQ(c.at("args").serialize(), R"(["migrate","sql","up","-e","--yes","-c","/etc/config/kratos.yml"])");
  EXPECT_EQ(c.at("terminationMessagePolicy").as_string(), "FallbackToLogsOnError");

  ContainerRunSpec timed = Spec();
  timed.timeout = std::chrono::minutes(5);
  EXPECT_EQ(Build(Options(), timed).at("spec").at("activeDeadlineSeconds").as_integer(), 300);
}

TEST(MigrationJobTest, PodInheritsWhatTheAppNeedsToReachItsDatabase) {
  value job = Build(Options(), Spec());
  const value& pod = Pod(job);
  EXPECT_EQ(pod.at("serviceAccountName").as_string(), "kratos");
  EXPECT_EQ(pod.at("imagePullSecrets").serialize(), R"([{"name":"registry"}])");
  EXPECT_EQ(pod.at("nodeSelector").at("pool").as_string(), "apps");
  EXPECT_EQ(pod.at("tolerations").at(0).at("key").as_string(), "dedicated");
  EXPECT_TRUE(pod.at("affinity").has_field("nodeAffinity"));
  EXPECT_EQ(pod.at("securityContext").at("runAsUser").as_integer(), 10000);
  EXPECT_EQ(pod.at("securityContext").at("fsGroup").as_integer(), 10000);
  // Only the volumes the app's container mounts: not the sidecar's cache.
  ASSERT_EQ(pod.at("volumes").size(), 2u);
  EXPECT_EQ(pod.at("volumes").at(0).at("name").as_string(), "config");
  EXPECT_EQ(pod.at("volumes").at(1).at("name").as_string(), "ca");
  const value& c = Container(job);
  EXPECT_EQ(c.at("volumeMounts").size(), 2u);
  EXPECT_EQ(c.at("envFrom").at(0).at("configMapRef").at("name").as_string(), "kratos-env");
  EXPECT_EQ(c.at("resources").at("limits").at("memory").as_string(), "256Mi");
  EXPECT_EQ(c.at("imagePullPolicy").as_string(), "IfNotPresent");
  // The app's env, with its own DSN replaced by the run's Secret reference (one DSN entry).
  const value& env = c.at("env");
  ASSERT_EQ(env.size(), 2u) << env.serialize();
  EXPECT_EQ(env.at(0).at("name").as_string(), "LOG_LEVEL");
  EXPECT_EQ(env.at(1).at("name").as_string(), "DSN");
  EXPECT_EQ(env.at(1).at("valueFrom").at("secretKeyRef").at("name").as_string(), "kratos-db");
  EXPECT_EQ(env.at(1).at("valueFrom").at("secretKeyRef").at("key").as_string(), "dsn");
  EXPECT_FALSE(env.at(1).has_field("value"));
}

TEST(MigrationJobTest, RestrictedPodSecurityWhereTheTemplateIsSilent) {
  value job = Build(Options(), Spec());
  const value& psc = Pod(job).at("securityContext");
  EXPECT_TRUE(psc.at("runAsNonRoot").as_bool());
  EXPECT_EQ(psc.at("seccompProfile").at("type").as_string(), "RuntimeDefault");
  const value& csc = Container(job).at("securityContext");
  EXPECT_FALSE(csc.at("allowPrivilegeEscalation").as_bool());
  EXPECT_EQ(csc.at("capabilities").at("drop").serialize(), R"(["ALL"])");

  // Without a workload: the same restricted defaults.
  KubeJobOptions bare = Options();
  bare.workload = {};
  value alone = Build(bare, Spec(), "");
  EXPECT_TRUE(Pod(alone).at("securityContext").at("runAsNonRoot").as_bool());
  EXPECT_FALSE(Pod(alone).has_field("serviceAccountName"));
  EXPECT_FALSE(Pod(alone).has_field("volumes"));
}

TEST(MigrationJobTest, TheTemplatesExplicitSecurityChoicesWin) {
  std::string d = kDeployment;
  d.replace(d.find(R"("securityContext": {"runAsUser": 10000, "fsGroup": 10000})"),
            std::string(R"("securityContext": {"runAsUser": 10000, "fsGroup": 10000})").size(),
            R"("securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})");
  d.replace(d.find(R"("imagePullPolicy": "IfNotPresent")"), std::string(R"("imagePullPolicy": "IfNotPresent")").size(),
            R"("imagePullPolicy": "IfNotPresent", "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["NET_RAW"]}})");
  value job = Build(Options(), Spec(), d);
  const value& psc = Pod(job).at("securityContext");
  EXPECT_FALSE(psc.at("runAsNonRoot").as_bool());
  EXPECT_EQ(psc.at("seccompProfile").at("type").as_string(), "Localhost");
  const value& csc = Container(job).at("securityContext");
  EXPECT_TRUE(csc.at("allowPrivilegeEscalation").as_bool());
  EXPECT_EQ(csc.at("capabilities").at("drop").serialize(), R"(["NET_RAW"])");
  EXPECT_EQ(csc.at("capabilities").at("add").serialize(), R"(["NET_BIND_SERVICE"])");
}

TEST(MigrationJobTest, NoDsnValueAnywhereInTheObject) {
  // A plain env value (what the Podman runtime gets) is refused: the Job would carry it.
  ContainerRunSpec inlined = Spec();
  inlined.env_from_secret.clear();
  inlined.env["DSN"] = "postgres://kratos:Pw-9xY-secret@db:5432/kratos";
  auto refused = BuildMigrationJob(Options(), inlined, kDeployment);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("dsnFrom.secretKeyRef"), std::string::npos);
  EXPECT_EQ(refused.status().message().find("Pw-9xY-secret"), std::string::npos);
  // The name never depends on a value either.
  EXPECT_EQ(MigrationJobName(Options(), inlined).find("secret"), std::string::npos);

  auto built = BuildMigrationJob(Options(), Spec(), kDeployment);
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->find("postgres://"), std::string::npos) << *built;
  EXPECT_EQ(built->find("\"value\":\"postgres"), std::string::npos);
}

TEST(MigrationJobTest, NameIsAHashOfWhatRuns) {
  KubeJobOptions o = Options();
  const std::string up = MigrationJobName(o, Spec());
  EXPECT_EQ(up, MigrationJobName(o, Spec())) << "the same step has the same name (adoption)";
  EXPECT_EQ(up.rfind("su-kratos-", 0), 0u) << up;
  EXPECT_LE(up.size(), 63u);
  ContainerRunSpec status = Spec();
  status.args = {"migrate", "sql", "status", "-e", "-c", "/etc/config/kratos.yml"};
  EXPECT_NE(MigrationJobName(o, status), up);
  ContainerRunSpec other_image = Spec();
  other_image.image = "oryd/kratos:v1.3.0";
  EXPECT_NE(MigrationJobName(o, other_image), up);
  KubeJobOptions other_ns = o;
  other_ns.ns = "billing";
  EXPECT_NE(MigrationJobName(other_ns, Spec()), up);
  // Long and dotted names still make a DNS label.
  KubeJobOptions long_name = o;
  long_name.name = "kratos.identity.example.com-with-a-very-long-name-that-goes-on-and-on";
  std::string n = MigrationJobName(long_name, Spec());
  EXPECT_LE(n.size(), 63u) << n;
  EXPECT_EQ(n.find('.'), std::string::npos) << n;
}

TEST(MigrationJobTest, MissingContainerNamesTheWorkload) {
  KubeJobOptions o = Options();
  o.workload.container = "hydra";
  auto j = BuildMigrationJob(o, Spec(), kDeployment);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kInvalidArgument);
  EXPECT_NE(j.status().message().find("Deployment ciam/kratos has no container \"hydra\""), std::string::npos)
      << j.status().message();
}

}  // namespace
}  // namespace su
