// policy.rehearse for the ory engine on Kubernetes: the reconciler with the Kubernetes edges (the
// Secret resolver and writer of controller/kubernetes, the migration Job runtime) against the API
// server emulator with its podman kubelet, running the fixture Kratos images that really migrate,
// and a real PostgreSQL. The database's DSN is held in a Secret (dsnFrom.secretKeyRef), so the copy's
// migrator can only be pointed at the copy through a Secret of its own:
//   * that Secret (<name>-rehearsal-dsn, key dsn) holds the copy's DSN (the source's host and port,
//     the copy's database), is labelled and owned by the SchemaUpgrade, and is gone afterwards;
//   * every migrator Job of the rehearsal reads it, and no `migrate sql up` Job reads the real one
//     while a broken tag is rehearsed: the rehearsal fails (RehearsalFailed) and the real
//     database's popx history and schema are unchanged;
//   * a good tag rehearses on the copy, then migrates the real database through the real Secret.
// Secrets and Jobs are followed by watches from before the pass (each ADDED/DELETED event is seen,
// however short the object lived). No sleeps: every wait is on a condition.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "api/conditions.h"
#include "controller/kubernetes/kube_secret_resolver.h"
#include "controller/kubernetes/kube_secret_writer.h"
#include "kube/api.h"
#include "kube/base64.h"
#include "kube/object_meta.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/engines/ory/ory_engine.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/rehearsal/scratch_database.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "reconcilers/schemaupgrade/status_json.h"
#include "tests/integration/policies/policy_harness.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/podman/local_podman.h"

namespace su::testing {
namespace {

using namespace std::chrono_literals;
using web::json::value;

const std::vector<std::string> kKratosUp = {"kratos", "migrate", "sql", "up", "-e", "--yes"};

// Every event of one resource in one namespace from the moment it is made, recorded by a thread.
class EventLog {
 public:
  EventLog(kube::KubeApi* api, const kube::GroupVersionResource& gvr, const std::string& ns) {
    auto list = api->List(kube::ResourcePath{gvr, ns, "", ""});
    EXPECT_TRUE(list.ok()) << list.error().Describe();
    std::string rv = list.ok() ? list->resource_version : "";
    thread_ = std::jthread([this, api, gvr, ns, rv](std::stop_token stop) mutable {
      while (!stop.stop_requested()) {
        kube::WatchOptions o;
        o.resource_version = rv;
        o.allow_bookmarks = false;
        auto r = api->Watch(
            kube::ResourcePath{gvr, ns, "", ""}, o,
            [&](const kube::WatchEvent& e) {
              std::lock_guard<std::mutex> l(mu_);
              events_.push_back(e);
              if (std::string v = kube::ParseResourceVersion(e.object); !v.empty()) rv = v;
              return true;
            },
            stop);
        if (!r.ok()) break;
      }
    });
  }
  ~EventLog() { thread_.request_stop(); }

  std::vector<kube::WatchEvent> events() const {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  // Waits for an event of `type` about `name` (bounded only so that a broken run ends).
  bool WaitFor(const std::string& type, const std::string& name) const {
    auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      for (const auto& e : events()) {
        auto meta = kube::ParseObjectMeta(e.object);
        if (e.type == type && meta.ok() && meta->name == name) return true;
      }
      std::this_thread::sleep_for(20ms);  // the poll's interval, not a wait for time to pass
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<kube::WatchEvent> events_;
  std::jthread thread_;
};

std::string Str(const value& v, std::initializer_list<const char*> path) {
  const value* at = &v;
  for (const char* p : path) {
    if (!at->is_object() || !at->has_field(p)) return "";
    at = &at->at(p);
  }
  return at->is_string() ? at->as_string() : "";
}

// A migrator Job as seen: its name, command ("up" / "status") and the Secret its DSN comes from.
struct SeenJob {
  std::string name, command, dsn_secret;
};

std::map<std::string, SeenJob> Jobs(const EventLog& log) {
  std::map<std::string, SeenJob> out;
  for (const auto& e : log.events()) {
    if (e.type != "ADDED") continue;
    value job = value::parse(e.object);
    const value& c = job.at("spec").at("template").at("spec").at("containers").at(0);
    SeenJob j;
    j.name = Str(job, {"metadata", "name"});
    j.command = c.at("args").serialize().find("\"up\"") != std::string::npos ? "up" : "status";
    if (c.has_field("env")) {
      for (const auto& env : c.at("env").as_array()) {
        if (Str(env, {"name"}) == "DSN") j.dsn_secret = Str(env, {"valueFrom", "secretKeyRef", "name"});
      }
    }
    out[j.name] = j;
  }
  return out;
}

class OryRehearseJobTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Status s = BuildFixtureImages();
    ASSERT_TRUE(s.ok()) << s.ToString();
    emu_ = new KubeEmulator({"--kubelet", "podman"});
    emu_->Start();
    if (::testing::Test::HasFatalFailure()) return;
    emu_->ApplyCrd();
    emu_->Kubectl({"wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s"});
  }
  static void TearDownTestSuite() {
    delete emu_;  // SIGTERM: the emulator removes the containers it started
    emu_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(emu_, nullptr);
    api_ = emu_->Client();
    ASSERT_TRUE(api_);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    ns_ = std::string(info->name()).substr(0, 20);
    std::transform(ns_.begin(), ns_.end(), ns_.begin(), [](unsigned char c) { return std::tolower(c); });
    emu_->Kubectl({"create", "namespace", ns_});
    harness_ = std::make_unique<PolicyHarness>("orykube");
    // The database's DSN in the Secret kratos-db, as a user keeps it.
    value secret = value::object();
    secret["metadata"]["name"] = value::string("kratos-db");
    secret["data"]["dsn"] = value::string(kube::Base64Encode(harness_->dsn()));
    auto made = api_->Create(kube::ResourcePath{kube::kSecrets, ns_, "", ""}, secret.serialize());
    ASSERT_TRUE(made.ok()) << made.error().Describe();
    // A real owner (the garbage collector deletes what an absent owner owns).
    auto owner = api_->Create(kube::ResourcePath{kube::kSchemaUpgrades, ns_, "", ""},
                              SchemaUpgradeJson("kratos", "v1.2.0", ns_));
    ASSERT_TRUE(owner.ok()) << owner.error().Describe();
    uid_ = value::parse(*owner).at("metadata").at("uid").as_string();
  }

  // The real database at `image`'s migrations, applied by its migrator in podman (not a Job).
  void MigrateRealTo(const std::string& image) {
    auto db = harness_->Connect();
    ASSERT_NE(db, nullptr);
    RunReport r = NewOryEngine(&podman_, image, kKratosUp, {}, "DSN", harness_->dsn())->Apply(db.get(), RunContext{});
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }

  // One pass of the SchemaUpgrade kratos (ory engine, target `image`, DSN from Secret kratos-db,
  // policy.rehearse) through the reconciler with the Kubernetes edges.
  ReconcileOutcome Reconcile(const std::string& version) {
    const std::string yaml = "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: kratos\n"
                             "  namespace: " + ns_ + "\nspec:\n  targetVersion: " + version +
                             "\n  image: localhost/oryd/kratos:" + version +
                             "\n  database:\n    dsnFrom:\n      secretKeyRef: {name: kratos-db, key: dsn}\n"
                             "  migrations:\n    engine: ory\n    command: [kratos, migrate, sql, up, -e, --yes]\n"
                             "  policy:\n    rehearse: true\n    backup: {enabled: false}\n";
    auto parsed = ParseManifests(yaml, "kratos.yaml", harness_->dir());
    EXPECT_TRUE(parsed.ok() && parsed->size() == 1) << parsed.status().ToString();
    if (!parsed.ok() || parsed->size() != 1) return {};
    SchemaUpgrade su = parsed->front();
    su.uid = uid_;

    ReconcilerDeps d = harness_->Deps();
    resolver_ = kube::NewKubeSecretResolver(api_.get());
    writer_ = kube::NewKubeSecretWriter(api_.get());
    d.secrets = resolver_.get();
    d.secret_writer = writer_.get();
    // controller/cli/kube_engines.cc's factory for the ory engine: a Job runtime per engine.
    d.make_engine = [this](const SchemaUpgrade& s, const std::string& dsn,
                           const std::string& image) -> Result<std::unique_ptr<Engine>> {
      KubeJobOptions o;
      o.api = api_.get();
      o.ns = s.namespace_;
      o.name = s.name;
      o.uid = s.uid;
      o.poll_interval = 100ms;
      runtimes_.push_back(NewKubeJobRuntime(o));
      return MakeEngine(s, dsn, image, LocalFileSystem(), runtimes_.back().get());
    };
    Reconciler rec(d);
    return harness_->Reconcile(rec, su);
  }

  // The rehearsal Secret's ADDED event: checks what it holds and carries; returns its DSN.
  std::string CheckRehearsalSecret(const EventLog& secrets) {
    std::string dsn;
    int added = 0;
    for (const auto& e : secrets.events()) {
      value s = value::parse(e.object);
      if (e.type != "ADDED" || Str(s, {"metadata", "name"}) != "kratos-rehearsal-dsn") continue;
      ++added;
      EXPECT_TRUE(kube::Base64Decode(Str(s, {"data", "dsn"}), &dsn));
      EXPECT_EQ(Str(s, {"metadata", "labels", "olympus.io/schemaupgrade"}), "kratos");
      EXPECT_EQ(Str(s, {"metadata", "labels", "olympus.io/schemaupgrade-uid"}), uid_);
      const value& owner = s.at("metadata").at("ownerReferences").at(0);
      EXPECT_EQ(Str(owner, {"kind"}), "SchemaUpgrade");
      EXPECT_EQ(Str(owner, {"uid"}), uid_);
      // The password only in data: not in the name, labels or annotations.
      EXPECT_EQ(s.at("metadata").serialize().find(PgServer::Shared().password()), std::string::npos);
    }
    EXPECT_EQ(added, 1);
    // The copy's DSN: the source's server (host, port, user) and the copy's database.
    auto copy = DsnToPgEnv(LibpqDsn(dsn));
    auto real = DsnToPgEnv(LibpqDsn(harness_->dsn()));
    EXPECT_TRUE(copy.ok() && real.ok());
    if (copy.ok() && real.ok()) {
      EXPECT_EQ((*copy)["PGDATABASE"], ScratchDatabaseName(ns_ + "/kratos"));
      for (const char* k : {"PGHOST", "PGPORT", "PGUSER"}) EXPECT_EQ((*copy)[k], (*real)[k]) << k;
    }
    EXPECT_TRUE(secrets.WaitFor("DELETED", "kratos-rehearsal-dsn")) << "the copy's Secret outlived the rehearsal";
    auto left = api_->Get(kube::ResourcePath{kube::kSecrets, ns_, "kratos-rehearsal-dsn", ""});
    EXPECT_FALSE(left.ok());
    EXPECT_TRUE(!left.ok() && left.error().IsNotFound());
    return dsn;
  }

  std::string CopyExists() {
    return harness_->Scalar("SELECT count(*) FROM pg_database WHERE datname = '" + ScratchDatabaseName(ns_ + "/kratos") +
                            "'");
  }

  static KubeEmulator* emu_;
  std::unique_ptr<kube::KubeApi> api_;
  std::string ns_, uid_;
  std::unique_ptr<PolicyHarness> harness_;
  std::unique_ptr<SecretResolver> resolver_;
  std::unique_ptr<SecretWriter> writer_;
  std::vector<std::unique_ptr<ContainerRuntime>> runtimes_;
  LocalPodman podman_;
};

KubeEmulator* OryRehearseJobTest::emu_ = nullptr;

TEST_F(OryRehearseJobTest, ABrokenTagFailsOnTheCopyThroughItsOwnSecretAndTheRealDatabaseIsUntouched) {
  MigrateRealTo("localhost/oryd/kratos:v1.2.0");
  if (HasFatalFailure()) return;
  const std::vector<std::string> before = harness_->History();
  ASSERT_EQ(before.size(), 7u);
  const std::string schema_before = harness_->Dump({"--schema-only"});
  EventLog secrets(api_.get(), kube::kSecrets, ns_), jobs(api_.get(), kJobs, ns_);

  auto out = Reconcile("v1.2.1-broken");

  EXPECT_EQ(out.kind, OutcomeKind::kFailed) << out.result.ToString();
  EXPECT_EQ(out.reason, reasons::kRehearsalFailed);
  EXPECT_NE(out.result.message().find("rehearsal FAILED at migration 20240501000002000000"), std::string::npos)
      << out.result.message();
  ASSERT_TRUE(out.plan && out.plan->rehearsal);
  EXPECT_TRUE(out.plan->rehearsal->ran) << out.plan->rehearsal->skipped;
  EXPECT_EQ(out.plan->rehearsal->migrations.size(), 2u) << "the first applied on the copy, the second failed there";
  CheckRehearsalSecret(secrets);

  // The copy's migrators read the copy's Secret; the real one was read only by the plan's status.
  auto seen = Jobs(jobs);
  int rehearsal_up = 0;
  for (const auto& [name, j] : seen) {
    SCOPED_TRACE(name + " " + j.command + " " + j.dsn_secret);
    if (j.command == "up") {
      EXPECT_EQ(j.dsn_secret, "kratos-rehearsal-dsn") << "a real migrator ran";
      ++rehearsal_up;
    } else {
      EXPECT_TRUE(j.dsn_secret == "kratos-db" || j.dsn_secret == "kratos-rehearsal-dsn");
    }
  }
  EXPECT_EQ(rehearsal_up, 1);

  // The real database: not one migration more, its schema byte for byte; the copy is gone.
  EXPECT_EQ(harness_->History(), before);
  EXPECT_EQ(harness_->Dump({"--schema-only"}), schema_before);
  EXPECT_EQ(CopyExists(), "0");
  harness_->ExpectNoSecretAnywhere();
}

TEST_F(OryRehearseJobTest, AGoodTagRehearsesOnTheCopyThenMigratesTheRealDatabase) {
  MigrateRealTo("localhost/oryd/kratos:v1.1.0");
  if (HasFatalFailure()) return;
  ASSERT_EQ(harness_->History().size(), 4u);
  EventLog secrets(api_.get(), kube::kSecrets, ns_), jobs(api_.get(), kJobs, ns_);

  auto out = Reconcile("v1.2.0");

  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  ASSERT_TRUE(out.plan && out.plan->rehearsal);
  EXPECT_TRUE(out.plan->rehearsal->ok) << out.plan->rehearsal->error;
  EXPECT_EQ(out.plan->rehearsal->migrations.size(), 3u);
  EXPECT_NE(out.status.rehearsal.find("rehearsal ok on a copy"), std::string::npos) << out.status.rehearsal;
  CheckRehearsalSecret(secrets);
  EXPECT_EQ(harness_->History().size(), 7u);

  // One up Job on the copy (its Secret), then one on the real database (the real Secret).
  std::map<std::string, int> up_by_secret;
  for (const auto& [name, j] : Jobs(jobs)) {
    if (j.command == "up") ++up_by_secret[j.dsn_secret];
  }
  EXPECT_EQ(up_by_secret, (std::map<std::string, int>{{"kratos-db", 1}, {"kratos-rehearsal-dsn", 1}}));
  EXPECT_EQ(CopyExists(), "0");
  harness_->ExpectNoSecretAnywhere();
}

}  // namespace
}  // namespace su::testing
