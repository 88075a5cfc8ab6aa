// Two controller replicas, one Lease (issue 8, "Done when": two controller processes against one
// emulator). The real binary (`controller --kubernetes --leader-elect`) runs as background
// processes against the API server emulator and a real PostgreSQL. The migration is slow on
// purpose and under the test's control: 002 waits in a loop for a row in e2e_gate, so "mid-migration"
// is a state the test observes (pg_stat_activity), never a matter of timing.
//
// Asserted: only the Lease holder reconciles (the standby's log has no reconcile line before it
// acquires the lease); kill -9 of the leader -> the standby takes the lease after it expires and
// converges; SIGTERM of the leader -> it releases, the standby takes over without waiting for expiry
// (the Lease's holder changes while the old lease would still be valid); a leader whose lease is
// taken exits 1; every migration applied exactly once (schema_migration and the table's rows).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "controller/kubernetes/lease_record.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "tests/support/bg_process.h"
#include "tests/support/free_port.h"
#include "tests/support/kube/kube_emulator.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

// Last: cpprestsdk defines a macro U that breaks gtest templates included after it.
#include <cpprest/json.h>

namespace su::testing {
namespace {

using namespace std::chrono_literals;

const kube::GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases", true};
constexpr const char* kV1 = "20260101000001";
constexpr const char* kV2 = "20260101000002";
constexpr const char* kLeaseName = "schema-upgrade-operator";

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// Polls cond (every 50 ms) until it holds or bound passes. The bound only ends a broken test.
bool WaitUntil(const std::function<bool()>& cond, std::chrono::seconds bound = 120s) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// GET http://127.0.0.1:port/path with Connection: close: {status, body}; status 0 when nothing answered.
std::pair<int, std::string> HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {0, ""};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return {0, ""};
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return {0, ""};
  }
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  if (resp.rfind("HTTP/1.1 ", 0) != 0) return {0, resp};
  auto body = resp.find("\r\n\r\n");
  return {std::atoi(resp.c_str() + 9), body == std::string::npos ? "" : resp.substr(body + 4)};
}

class LeaderElectionE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu_ = new KubeEmulator();
    emu_->Start();
    emu_->ApplyCrd();
  }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }

  struct Replica {
    std::string name;  // POD_NAME: the identity is name + "_" + a random suffix
    std::unique_ptr<BackgroundProcess> proc;
    int metrics_port = 0;
    std::string Log() const { return ReadFile(proc->log_path()); }
  };

  void SetUp() override {
    ns_ = "le-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
          std::to_string(++counter_);
    emu_->Kubectl({"create", "namespace", ns_});
    dsn_ = PgServer::Shared().CreateDatabase("le");
    Exec("CREATE TABLE e2e_gate (opened boolean NOT NULL)");
    dir_.Write("migrations/" + std::string(kV1) + "_items.up.sql",
               "CREATE TABLE items (v text NOT NULL);\nINSERT INTO items VALUES ('one');\n");
    // The slow one: a row, a wait the test ends by opening the gate, a second row.
    dir_.Write("migrations/" + std::string(kV2) + "_slow.up.sql",
               "INSERT INTO items VALUES ('two-start');\n"
               "DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM e2e_gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$;\n"
               "INSERT INTO items VALUES ('two-end');\n");
  }

  void TearDown() override {
    for (auto& [_, r] : replicas_) {
      if (r.proc->running()) {
        r.proc->Signal(SIGKILL);
        r.proc->Wait(30s);
      }
    }
    // Let an orphaned migration session (kill -9) end before the database is left behind.
    OpenGate();
  }

  void Exec(const std::string& sql) {
    auto db = ConnectPostgres(dsn_, "e2e-leader-election");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto r = (*db)->Query(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  }
  std::string Sql1(const std::string& sql) {
    auto db = ConnectPostgres(dsn_, "e2e-leader-election");
    if (!db.ok()) return "";
    auto r = (*db)->Query(sql);
    if (!r.ok() || r->rows.empty() || r->rows[0].empty()) return "";
    return r->Get(0, 0);
  }
  void OpenGate() {
    if (Sql1("SELECT count(*) FROM e2e_gate") == "0") Exec("INSERT INTO e2e_gate VALUES (true)");
  }
  // The slow migration is running: its DO loop is an active statement on our database.
  bool MigrationRunning() {
    return Sql1("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                "AND query LIKE 'DO $$ BEGIN WHILE NOT EXISTS%'") != "0";
  }
  std::string History() {
    return Sql1("SELECT coalesce(string_agg(version || ':' || n, ',' ORDER BY version), '') FROM "
                "(SELECT version, count(*) AS n FROM schema_migration GROUP BY version) h");
  }
  std::string Items() { return Sql1("SELECT string_agg(v, ',' ORDER BY v) FROM items"); }

  void CreateSchemaUpgrade() {
    std::string su = R"({"apiVersion":"olympus.io/v1alpha1","kind":"SchemaUpgrade","metadata":{"name":"app","namespace":")" +
                     ns_ + R"("},"spec":{"service":"app","targetVersion":")" + kV2 +
                     R"(","database":{"dsnFrom":{"env":"APP_DSN"}},"migrations":{"engine":"sql","path":")" +
                     dir_.Path("migrations") + R"("},"policy":{"backup":{"enabled":false}}}})";
    auto api = emu_->Client();
    auto r = api->Create({kube::kSchemaUpgrades, ns_, "", ""}, su);
    ASSERT_TRUE(r.ok()) << r.error().Describe();
  }

  // Starts `schema-upgrade controller --kubernetes --leader-elect` as pod `name`.
  Replica* StartReplica(const std::string& name, const std::vector<std::string>& lease_flags) {
    Replica r;
    r.name = name;
    r.proc = std::make_unique<BackgroundProcess>();
    r.metrics_port = FreeTcpPort();
    std::vector<std::string> argv = {Env("SU_BINARY", "schema-upgrade"), "controller", "--kubernetes",
                                     "--kubeconfig", emu_->Kubeconfig(), "--namespace", ns_,
                                     "--state-dir", dir_.Path("state-" + name),
                                     "--metrics-addr", "127.0.0.1:" + std::to_string(r.metrics_port),
                                     "--leader-elect", "--leader-election-namespace", ns_};
    argv.insert(argv.end(), lease_flags.begin(), lease_flags.end());
    std::map<std::string, std::string> env = {{"POD_NAME", name}, {"APP_DSN", dsn_}, {"POD_NAMESPACE", kUnsetEnv},
                                              {"SU_LOG_LEVEL", "info"}};
    EXPECT_TRUE(r.proc->Start(argv, env, dir_.Path(name + ".log")));
    auto [it, _] = replicas_.emplace(name, std::move(r));
    return &it->second;
  }

  std::optional<LeaseRecord> Lease() {
    auto api = emu_->Client();
    auto got = api->Get({kLeases, ns_, kLeaseName, ""});
    if (!got.ok()) return std::nullopt;
    auto l = ParseLease(*got);
    if (!l.ok()) return std::nullopt;
    return l->record;
  }
  std::string Holder() {
    auto l = Lease();
    return l ? l->holder_identity : "";
  }
  bool HeldBy(const Replica* r) { return Holder().rfind(r->name + "_", 0) == 0; }

  // The standby is alive and has read the Lease: it logged the leader it observed.
  bool Observed(const Replica* standby, const Replica* leader) {
    return standby->Log().find("event=leader.observed") != std::string::npos &&
           standby->Log().find("holder=" + leader->name + "_") != std::string::npos;
  }
  // Every reconcile logs `event=phase`; none may come before this replica acquired the lease.
  static void ExpectNoReconcileBeforeLeading(const Replica* r) {
    std::string log = r->Log();
    auto acquired = log.find("event=leader.acquired");
    auto first_reconcile = log.find("event=phase ");
    if (first_reconcile == std::string::npos) return;
    EXPECT_NE(acquired, std::string::npos) << r->name << " reconciled without ever leading:\n" << log;
    EXPECT_LT(acquired, first_reconcile) << r->name << " reconciled before it acquired the lease:\n" << log;
  }
  static double LeaderGauge(const Replica* r) {
    auto [code, body] = HttpGet(r->metrics_port, "/metrics");
    auto at = body.find("schema_upgrade_leader{identity=\"" + r->name + "_");
    if (code != 200 || at == std::string::npos) return -1;
    auto line_end = body.find('\n', at);
    auto space = body.rfind(' ', line_end);
    return std::atof(body.substr(space + 1, line_end - space - 1).c_str());
  }
  // The SchemaUpgrade's Ready condition is True for the current generation (as kstatus reads it).
  bool Ready() {
    auto api = emu_->Client();
    auto got = api->Get({kube::kSchemaUpgrades, ns_, "app", ""});
    if (!got.ok()) return false;
    try {
      auto v = web::json::value::parse(*got);
      if (!v.has_object_field("status") || !v.at("status").has_array_field("conditions")) return false;
      for (const auto& c : v.at("status").at("conditions").as_array()) {
        if (c.has_string_field("type") && c.at("type").as_string() == "Ready")
          return c.has_string_field("status") && c.at("status").as_string() == "True";
      }
    } catch (const std::exception&) {
    }
    return false;
  }
  std::string Why() {
    std::string out = "lease holder: " + Holder() + "\nhistory: " + History() + "\nitems: " + Items() + "\n";
    auto got = emu_->Client()->Get({kube::kSchemaUpgrades, ns_, "app", ""});
    out += "schemaupgrade: " + (got.ok() ? *got : got.error().Describe()) + "\n";
    for (auto& [name, r] : replicas_) out += "--- " + name + " ---\n" + r.proc->LogTail(6000) + "\n";
    return out;
  }

  static KubeEmulator* emu_;
  static int counter_;
  TempDir dir_;
  std::string ns_;
  std::string dsn_;
  std::map<std::string, Replica> replicas_;
};
KubeEmulator* LeaderElectionE2E::emu_ = nullptr;
int LeaderElectionE2E::counter_ = 0;

// Short durations so expiry takes seconds; renew deadline generous enough for a loaded machine.
const std::vector<std::string> kShortLease = {"--leader-election-lease-duration", "6s",
                                              "--leader-election-renew-deadline", "4s",
                                              "--leader-election-retry-period", "500ms"};
// A lease far longer than any bound below: only a release can hand it over in time.
const std::vector<std::string> kLongLease = {"--leader-election-lease-duration", "300s",
                                             "--leader-election-renew-deadline", "200s",
                                             "--leader-election-retry-period", "500ms"};

TEST_F(LeaderElectionE2E, KillNineOfTheLeaderMidMigrationTheStandbyTakesOverAfterExpiryAndAppliesEachMigrationOnce) {
  CreateSchemaUpgrade();
  Replica* a = StartReplica("ctl-a", kShortLease);
  ASSERT_TRUE(WaitUntil([&] { return HeldBy(a); })) << Why();
  Replica* b = StartReplica("ctl-b", kShortLease);
  ASSERT_TRUE(WaitUntil([&] { return Observed(b, a); })) << Why();
  ASSERT_TRUE(WaitUntil([&] { return MigrationRunning(); })) << "the leader never reached the slow migration\n" << Why();
  EXPECT_EQ(History(), std::string(kV1) + ":1");

  // Only the holder reconciles; the standby is ready (it could take over) and says it is not leader.
  EXPECT_EQ(b->Log().find("event=phase "), std::string::npos) << "the standby reconciled:\n" << b->Log();
  EXPECT_NE(a->Log().find("event=phase "), std::string::npos);
  EXPECT_TRUE(WaitUntil([&] { return LeaderGauge(a) == 1 && LeaderGauge(b) == 0; }, 30s)) << Why();
  // Readiness is a condition the replicas reach (their first list may still be in flight on a
  // loaded machine): wait for it, never assume it.
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(b->metrics_port, "/readyz").first == 200; }, 60s)) << Why();
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(a->metrics_port, "/readyz").first == 200; }, 60s)) << Why();

  a->proc->Signal(SIGKILL);
  ASSERT_TRUE(a->proc->Wait(30s).has_value());
  ASSERT_TRUE(WaitUntil([&] { return HeldBy(b); })) << "the standby did not take the expired lease\n" << Why();
  EXPECT_EQ(Lease()->lease_transitions, 1);
  // The killed leader's session still sits in the gate loop holding the migration lock; opening the
  // gate lets it reach its next round trip, find the client gone and roll back.
  OpenGate();
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << "the new leader did not converge\n" << Why();
  EXPECT_EQ(History(), std::string(kV1) + ":1," + kV2 + ":1") << Why();
  EXPECT_EQ(Items(), "one,two-end,two-start") << "a migration ran twice or half\n" << Why();
  ExpectNoReconcileBeforeLeading(b);
  EXPECT_TRUE(WaitUntil([&] { return LeaderGauge(b) == 1; }, 30s));

  b->proc->Signal(SIGTERM);
  auto end = b->proc->Wait(60s);
  ASSERT_TRUE(end.has_value()) << Why();
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << Why();
  EXPECT_EQ(Holder(), "") << "SIGTERM releases the lease";
}

TEST_F(LeaderElectionE2E, SigtermOfTheLeaderReleasesTheLeaseAndTheStandbyTakesOverWithoutWaitingForExpiry) {
  CreateSchemaUpgrade();
  Replica* a = StartReplica("ctl-a", kLongLease);
  ASSERT_TRUE(WaitUntil([&] { return HeldBy(a); })) << Why();
  Replica* b = StartReplica("ctl-b", kLongLease);
  ASSERT_TRUE(WaitUntil([&] { return Observed(b, a); })) << Why();
  ASSERT_TRUE(WaitUntil([&] { return MigrationRunning(); })) << Why();
  const std::string held_by_a = Holder();

  a->proc->Signal(SIGTERM);
  auto end = a->proc->Wait(60s);
  ASSERT_TRUE(end.has_value()) << "the leader did not stop on SIGTERM\n" << Why();
  EXPECT_TRUE(end->exited && end->exit_code == 0) << end->Describe() << "\n" << Why();
  EXPECT_NE(a->Log().find("event=leader.released"), std::string::npos) << a->Log();
  // The holder changes while a's 300 s lease would still be valid: the release did it, not expiry.
  ASSERT_TRUE(WaitUntil([&] { return HeldBy(b); }, 120s)) << Why();
  EXPECT_NE(Holder(), held_by_a);
  EXPECT_EQ(Lease()->lease_transitions, 1);
  // a cancelled its statement on the way out (the migration rolled back): b runs 002 from the start.
  ASSERT_TRUE(WaitUntil([&] { return MigrationRunning(); })) << Why();
  OpenGate();
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << Why();
  EXPECT_EQ(History(), std::string(kV1) + ":1," + kV2 + ":1") << Why();
  EXPECT_EQ(Items(), "one,two-end,two-start") << Why();
  ExpectNoReconcileBeforeLeading(b);
}

TEST_F(LeaderElectionE2E, ALeaderWhoseLeaseIsTakenCancelsItsMigrationAndExitsOne) {
  CreateSchemaUpgrade();
  Replica* a = StartReplica("ctl-a", kShortLease);
  ASSERT_TRUE(WaitUntil([&] { return HeldBy(a); })) << Why();
  ASSERT_TRUE(WaitUntil([&] { return MigrationRunning(); })) << Why();
  // Another holder appears (as after a partition the leader did not notice): write it over a's head.
  auto api = emu_->Client();
  bool written = false;
  for (int i = 0; i < 50 && !written; ++i) {
    auto got = api->Get({kLeases, ns_, kLeaseName, ""});
    ASSERT_TRUE(got.ok());
    auto body = UpdatedLeaseJson(*got, {"intruder", 300, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", 9});
    ASSERT_TRUE(body.ok());
    written = api->Update({kLeases, ns_, kLeaseName, ""}, *body).ok();
  }
  ASSERT_TRUE(written);
  auto end = a->proc->Wait(60s);
  ASSERT_TRUE(end.has_value()) << "a leader that lost its lease must exit\n" << Why();
  EXPECT_TRUE(end->exited && end->exit_code == 1) << end->Describe() << "\n" << Why();
  EXPECT_NE(a->Log().find("event=leader.lost"), std::string::npos) << a->Log();
  EXPECT_EQ(Holder(), "intruder") << "a lost leader never writes the lease";
  // Its statement was cancelled and its migration rolled back.
  ASSERT_TRUE(WaitUntil([&] { return !MigrationRunning(); }, 30s)) << Why();
  EXPECT_EQ(History(), std::string(kV1) + ":1");
  EXPECT_EQ(Items(), "one");
}

// The leader-election flags are checked before anything starts: exit 2 with a message naming the flag.
TEST(LeaderElectionFlagsTest, BadFlagsExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--manifests", "/tmp", "--leader-elect"}, "--leader-elect needs --kubernetes"},
      {{"--kubernetes", "--leader-election-id", "x"}, "--leader-election-id needs --leader-elect"},
      {{"--kubernetes", "--leader-elect"}, "pass --leader-election-namespace NS or set POD_NAMESPACE"},
      {{"--kubernetes", "--leader-elect", "--leader-election-namespace", "ops", "--leader-election-renew-deadline", "20s"},
       "--leader-election-renew-deadline (20s) must be shorter than --leader-election-lease-duration (15s)"},
      {{"--kubernetes", "--leader-elect", "--leader-election-namespace", "ops", "--leader-election-retry-period", "soon"},
       "--leader-election-retry-period"},
  };
  for (const auto& c : cases) {
    ProcessSpec spec;
    spec.argv = {Env("SU_BINARY", "schema-upgrade"), "controller"};
    spec.argv.insert(spec.argv.end(), c.args.begin(), c.args.end());
    spec.env = {{"POD_NAMESPACE", ""}, {"KUBECONFIG", "/nonexistent"}};
    spec.timeout = std::chrono::seconds(60);
    auto r = PosixProcessRunner()->Run(spec);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->exit_code, 2) << FormatArgv(spec.argv) << "\n" << r->Tail();
    EXPECT_NE(r->err.find(c.message), std::string::npos) << FormatArgv(spec.argv) << "\n" << r->err;
  }
}

}  // namespace
}  // namespace su::testing
