// Unit tests for the ory engine: status-table parsing (Ory's real tab-padded format, with noise),
// the derived status command, and Observe/Apply against a fake ContainerRuntime whose "migrator"
// writes schema_migration rows into a real PostgreSQL database, so the before/after diff, the
// audit rows and the secret handling are checked for real.
#include "reconcilers/engines/ory/ory_engine.h"

#include <gtest/gtest.h>

#include <functional>

#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/ory/ory_status.h"
#include "reconcilers/engines/ory/popx_history.h"
#include "tests/support/pg_server.h"

namespace su {
namespace {

// What `kratos migrate sql status` prints (cmdx.PrintTable: tabwriter with tab padding).
const char* kKratosStatus =
    "Version\t\t\tName\t\t\t\tStatus\t\n"
    "20150100000001000000\tnetworks\t\t\tApplied\t\n"
    "20191100000001000000\tidentities\t\t\tApplied\t\n"
    "20200519101057000000\tidentity_credentials\t\tPending\t\n"
    "20200601101000000000\tsessions_add_aal\t\tPending\t\n";

TEST(ParseOryStatus, ReadsOrysTabPaddedTable) {
  auto rows = ParseOryStatus(kKratosStatus);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[0].version, "20150100000001000000");
  EXPECT_EQ((*rows)[0].name, "networks");
  EXPECT_TRUE((*rows)[0].applied());
  EXPECT_EQ((*rows)[3].name, "sessions_add_aal");
  EXPECT_TRUE((*rows)[3].pending());
}

TEST(ParseOryStatus, IgnoresLogLinesColoursAndCrlf) {
  std::string out =
      "time=2024-05-01T10:00:00Z level=info msg=\"No tracer configured\" version=20200519101057000000\r\n"
      "{\"level\":\"info\",\"msg\":\"Connecting\",\"audience\":\"application\"}\r\n"
      "Version   Name       Status   \r\n"
      "\x1b[32m20150100000001000000\x1b[0m   networks   Applied   \r\n"
      "20200519101057000000   identity credentials   Pending\r\n";
  auto rows = ParseOryStatus(out);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].version, "20150100000001000000");
  EXPECT_TRUE((*rows)[0].applied());
  EXPECT_EQ((*rows)[1].name, "identity credentials");
  EXPECT_TRUE((*rows)[1].pending());
}

TEST(ParseOryStatus, HeaderOnlyMeansNoMigrations) {
  auto rows = ParseOryStatus("Version\tName\tStatus\t\n");
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST(ParseOryStatus, RejectsOutputThatIsNotATable) {
  auto rows = ParseOryStatus("Error: unknown command \"status\" for \"kratos migrate sql\"\n");
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("unknown command"), std::string::npos) << rows.status().message();
  EXPECT_FALSE(ParseOryStatus("").ok());
}

TEST(DefaultOryStatusCommand, DerivesStatusFromUp) {
  EXPECT_EQ(DefaultOryStatusCommand({"kratos", "migrate", "sql", "up", "-e", "--yes"}),
            (std::vector<std::string>{"kratos", "migrate", "sql", "status", "-e"}));
  EXPECT_EQ(DefaultOryStatusCommand({"hydra", "migrate", "sql", "up", "--yes", "--read-from-env", "-c", "/etc/h.yml"}),
            (std::vector<std::string>{"hydra", "migrate", "sql", "status", "--read-from-env", "-c", "/etc/h.yml"}));
  EXPECT_TRUE(DefaultOryStatusCommand({"kratos", "serve"}).empty());
}

// A migrator stand-in: answers `status` from the versions it knows and the database, and on `up`
// inserts schema_migration rows through its own connection, as a container would.
class FakeRuntime : public ContainerRuntime {
 public:
  std::vector<ContainerRunSpec> runs;
  std::function<Result<ProcessResult>(const ContainerRunSpec&)> on_up;
  std::function<Result<ProcessResult>(const ContainerRunSpec&)> on_status;

  Result<ProcessResult> RunOnce(const ContainerRunSpec& spec) override {
    runs.push_back(spec);
    bool status = std::find(spec.args.begin(), spec.args.end(), "status") != spec.args.end();
    auto& h = status ? on_status : on_up;
    if (!h) return Status::Error(Code::kUnavailable, "no handler");
    return h(spec);
  }
  Result<bool> ImageExists(const std::string&) override { return true; }
};

struct Known {
  std::string version, name;
};

class OryEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = testing::PgServer::Shared().CreateDatabase("ory");
    auto db = ConnectPostgres(dsn_, "ory-engine-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto m = ConnectPostgres(dsn_, "fake-migrator");
    ASSERT_TRUE(m.ok());
    migrator_db_ = std::move(m).value();
    rt_.on_status = [this](const ContainerRunSpec&) -> Result<ProcessResult> {
      auto applied = ReadPopxVersions(migrator_db_.get());
      if (!applied.ok()) return applied.status();
      ProcessResult r;
      r.exit_code = 0;
      r.out = "Version\tName\tStatus\t\n";
      for (const auto& k : image_) {
        bool done = std::find(applied->begin(), applied->end(), k.version) != applied->end();
        r.out += k.version + "\t" + k.name + "\t" + (done ? "Applied" : "Pending") + "\t\n";
      }
      return r;
    };
  }

  void CreateHistory() {
    ASSERT_TRUE(migrator_db_
                    ->ExecScript("CREATE TABLE IF NOT EXISTS schema_migration (version VARCHAR(48) NOT NULL, "
                                 "version_self INT NOT NULL DEFAULT 0); CREATE UNIQUE INDEX IF NOT EXISTS "
                                 "schema_migration_version_idx ON schema_migration (version)")
                    .ok());
  }
  void Record(const std::string& v) {
    ASSERT_TRUE(migrator_db_->Exec("INSERT INTO schema_migration (version) VALUES ($1)", {v}).ok());
  }
  // An `up` that applies the first `n` pending versions, printing Ory-like lines, then exits `code`.
  void UpAppliesThenExits(size_t n, int code, std::string extra_err = "") {
    rt_.on_up = [this, n, code, extra_err](const ContainerRunSpec& spec) -> Result<ProcessResult> {
      CreateHistory();
      auto applied = ReadPopxVersions(migrator_db_.get());
      ProcessResult r;
      size_t done = 0;
      for (const auto& k : image_) {
        if (std::find(applied->begin(), applied->end(), k.version) != applied->end()) continue;
        std::string line = "Applying migration " + k.version + " " + k.name + "\n";
        r.out += line;
        if (spec.on_output) spec.on_output(line, false);
        if (done == n) break;  // this one fails
        Record(k.version);
        ++done;
      }
      if (code != 0) {
        r.err = extra_err + "ERROR: relation \"session_device\" does not exist\n";
        if (spec.on_output) spec.on_output(r.err, true);
      }
      r.exit_code = code;
      return r;
    };
  }
  std::unique_ptr<Engine> MakeEngine() {
    return NewOryEngine(&rt_, "localhost/oryd/kratos:v1.2.0", {"kratos", "migrate", "sql", "up", "-e", "--yes"}, {},
                        "DSN", dsn_);
  }
  std::vector<AuditEntry> Audit() {
    AuditLog log(db_.get());
    auto l = log.List(100);
    EXPECT_TRUE(l.ok());
    auto v = l.ok() ? *l : std::vector<AuditEntry>{};
    std::reverse(v.begin(), v.end());  // oldest first
    return v;
  }

  std::string dsn_;
  std::unique_ptr<Database> db_, migrator_db_;
  FakeRuntime rt_;
  std::vector<Known> image_ = {{"20240101000001000000", "networks"},
                               {"20240101000002000000", "identities"},
                               {"20240301000001000000", "identity_verifiable_addresses"},
                               {"20240301000002000000", "sessions_add_aal"},
                               {"20240301000003000000", "identities_add_metadata"}};
};

TEST_F(OryEngineTest, ObserveOnEmptyDatabaseListsAllPendingAndWritesNothing) {
  auto engine = MakeEngine();
  auto st = engine->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->applied.empty());
  ASSERT_EQ(st->pending.size(), 5u);
  EXPECT_EQ(st->pending[0].version, "20240101000001000000");
  EXPECT_EQ(st->pending[0].name, "networks");
  EXPECT_EQ(st->latest_version, "20240301000003000000");
  EXPECT_EQ(st->current_version, "");
  auto tables = db_->Query(
      "SELECT count(*) FROM pg_tables WHERE tablename IN ('schema_migration', 'schema_upgrade_log')");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(tables->Get(0, 0), "0");
}

TEST_F(OryEngineTest, ObserveSplitsAppliedPendingAndUnknown) {
  CreateHistory();
  Record("20240101000001000000");
  Record("20240101000002000000");
  Record("20230101000009000000");  // applied by some other build: not in this image
  auto st = MakeEngine()->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->applied.size(), 3u);
  EXPECT_EQ(st->applied[1].version, "20240101000001000000");
  EXPECT_EQ(st->applied[1].name, "networks");
  ASSERT_EQ(st->pending.size(), 3u);
  EXPECT_EQ(st->pending[0].version, "20240301000001000000");
  EXPECT_EQ(st->unknown, std::vector<std::string>{"20230101000009000000"});
  EXPECT_EQ(st->current_version, "20240101000002000000");
}

TEST_F(OryEngineTest, ObserveFailsWithTheStatusCommandsOutput) {
  rt_.on_status = [](const ContainerRunSpec&) -> Result<ProcessResult> {
    ProcessResult r;
    r.exit_code = 1;
    r.err = "Could not open the database connection: dial tcp 127.0.0.1:1: connection refused\n";
    return r;
  };
  auto st = MakeEngine()->Observe(db_.get());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("connection refused"), std::string::npos) << st.status().message();
}

TEST_F(OryEngineTest, ApplyPassesTheDsnOnlyThroughTheEnvironment) {
  UpAppliesThenExits(99, 0);
  auto rep = MakeEngine()->Apply(db_.get(), RunContext{});
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  ASSERT_EQ(rt_.runs.size(), 2u);  // status (plan), then up
  const auto& up = rt_.runs[1];
  EXPECT_EQ(up.image, "localhost/oryd/kratos:v1.2.0");
  EXPECT_EQ(up.entrypoint, std::vector<std::string>{"kratos"});
  EXPECT_EQ(up.args, (std::vector<std::string>{"migrate", "sql", "up", "-e", "--yes"}));
  EXPECT_EQ(up.network, "host");
  EXPECT_EQ(up.env.at("DSN"), dsn_);
  EXPECT_EQ(rt_.runs[0].args, (std::vector<std::string>{"migrate", "sql", "status", "-e"}));
  const std::string& pw = testing::PgServer::Shared().password();
  for (const auto& run : rt_.runs) {
    for (const auto& a : run.args) EXPECT_EQ(a.find(pw), std::string::npos) << a;
    for (const auto& a : run.entrypoint) EXPECT_EQ(a.find(pw), std::string::npos) << a;
  }
}

TEST_F(OryEngineTest, ApplyRecordsExactlyTheVersionsTheRunAdded) {
  CreateHistory();
  Record("20240101000001000000");
  Record("20240101000002000000");
  Record("20230101000009000000");  // not ours, not pending: must not show up as added
  UpAppliesThenExits(99, 0);
  std::vector<Progress> progress;
  RunContext ctx;
  ctx.resource = "ciam/kratos";
  ctx.on_progress = [&](const Progress& p) { progress.push_back(p); };
  auto engine = MakeEngine();
  auto rep = engine->Apply(db_.get(), ctx);
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  ASSERT_EQ(rep.steps.size(), 3u);
  EXPECT_EQ(rep.steps[0].version, "20240301000001000000");
  EXPECT_EQ(rep.steps[0].name, "identity_verifiable_addresses");
  EXPECT_EQ(rep.steps[2].version, "20240301000003000000");
  int starts = 0;
  for (const auto& p : progress) starts += p.event == Progress::Event::kMigrationStart;
  EXPECT_EQ(starts, 3);

  auto audit = Audit();
  ASSERT_EQ(audit.size(), 4u);  // the container run + one per version
  EXPECT_EQ(audit[0].name, "localhost/oryd/kratos:v1.2.0");
  EXPECT_EQ(audit[0].status, "succeeded");
  EXPECT_EQ(audit[0].statements_applied, 3);
  EXPECT_EQ(audit[0].resource, "ciam/kratos");
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(audit[i].engine, "ory");
    EXPECT_EQ(audit[i].status, "succeeded");
    EXPECT_EQ(audit[i].version, rep.steps[i - 1].version);
  }

  // Second run: nothing pending, nothing added.
  auto again = engine->Apply(db_.get(), ctx);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.steps.empty());
  auto st = engine->Observe(db_.get());
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->pending.empty());
}

TEST_F(OryEngineTest, FailedRunReportsOutputPartialVersionsAndNoSecret) {
  const std::string& pw = testing::PgServer::Shared().password();
  UpAppliesThenExits(2, 1, "level=error msg=\"could not apply\" dsn=" + dsn_ + "\n");
  auto rep = MakeEngine()->Apply(db_.get(), RunContext{});
  ASSERT_FALSE(rep.status.ok());
  EXPECT_EQ(rep.status.code(), Code::kFailed);
  const std::string& msg = rep.status.message();
  EXPECT_NE(msg.find("exited with code 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("session_device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("20240301000001000000"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(pw), std::string::npos) << msg;
  // What makes the controller try again, said exactly (it does not retry a failed migration).
  EXPECT_NE(msg.find("when the spec changes, when the olympus.io/retry annotation gets a new value, or on "
                     "`schema-upgrade apply`"), std::string::npos) << msg;
  ASSERT_EQ(rep.steps.size(), 2u);
  EXPECT_EQ(rep.steps[1].version, "20240101000002000000");
  EXPECT_EQ(rep.failed_version, "20240301000001000000");

  auto audit = Audit();
  ASSERT_EQ(audit.size(), 4u);  // run, 2 applied, 1 failed
  EXPECT_EQ(audit[0].status, "failed");
  EXPECT_NE(audit[0].error.find("session_device"), std::string::npos);
  EXPECT_EQ(audit[0].error.find(pw), std::string::npos);
  EXPECT_EQ(audit[3].version, "20240301000001000000");
  EXPECT_EQ(audit[3].status, "failed");
}

// With retry_failed_runs (Kubernetes Jobs) a migrator that exited non-zero is reported for retries
// with backoff and says so; one that timed out (the Job's deadline) is permanent at once, as is any
// failure without the option (Podman).
TEST_F(OryEngineTest, FailedRunIsRetryableOnlyWithRetryFailedRunsAndNotWhenItTimedOut) {
  UpAppliesThenExits(0, 1);
  auto rep = MakeEngine()->Apply(db_.get(), RunContext{});
  ASSERT_EQ(rep.status.code(), Code::kFailed);
  EXPECT_FALSE(rep.retry_with_backoff);

  OryEngineOptions o;
  o.image = "localhost/oryd/kratos:v1.2.0";
  o.up_command = {"kratos", "migrate", "sql", "up", "-e", "--yes"};
  o.dsn = dsn_;
  o.retry_failed_runs = true;
  rep = NewOryEngine(&rt_, o)->Apply(db_.get(), RunContext{});
  ASSERT_EQ(rep.status.code(), Code::kFailed);
  EXPECT_TRUE(rep.retry_with_backoff);
  const std::string& msg = rep.status.message();
  EXPECT_NE(msg.find("retried with policy.retries' backoff up to retries.limit times"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << "the last output is quoted: " << msg;

  rt_.on_up = [](const ContainerRunSpec&) -> Result<ProcessResult> {
    ProcessResult r;
    r.exit_code = -1;
    r.term_signal = 9;
    r.timed_out = true;
    return r;
  };
  rep = NewOryEngine(&rt_, o)->Apply(db_.get(), RunContext{});
  ASSERT_EQ(rep.status.code(), Code::kFailed);
  EXPECT_NE(rep.status.message().find("timed out"), std::string::npos) << rep.status.message();
  EXPECT_FALSE(rep.retry_with_backoff) << "a run past its deadline would time out again";
}

TEST_F(OryEngineTest, ApplyRunsTheMigratorEvenWhenTheStatusCommandFails) {
  rt_.on_status = [](const ContainerRunSpec&) -> Result<ProcessResult> {
    ProcessResult r;
    r.exit_code = 2;
    r.err = "unknown flag: --format\n";
    return r;
  };
  UpAppliesThenExits(99, 0);
  auto rep = MakeEngine()->Apply(db_.get(), RunContext{});
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  EXPECT_EQ(rep.steps.size(), 5u);
  EXPECT_EQ(rep.steps[0].name, "");  // names come from the plan only
}

TEST_F(OryEngineTest, RuntimeThatCannotRunIsAnUnavailableErrorAndAddsNothing) {
  rt_.on_up = [](const ContainerRunSpec&) -> Result<ProcessResult> {
    return Status::Error(Code::kUnavailable, "podman: cannot connect to the service");
  };
  auto rep = MakeEngine()->Apply(db_.get(), RunContext{});
  ASSERT_FALSE(rep.status.ok());
  EXPECT_EQ(rep.status.code(), Code::kUnavailable);
  EXPECT_TRUE(rep.steps.empty());
  auto audit = Audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].status, "failed");
}

TEST_F(OryEngineTest, CommandStartingWithMigrateKeepsTheImagesEntrypoint) {
  UpAppliesThenExits(99, 0);
  auto engine = NewOryEngine(&rt_, "localhost/oryd/hydra:v2.3.0", {"migrate", "sql", "up", "-e", "--yes"}, {}, "", dsn_);
  auto rep = engine->Apply(db_.get(), RunContext{});
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  ASSERT_EQ(rt_.runs.size(), 2u);
  EXPECT_TRUE(rt_.runs[1].entrypoint.empty());
  EXPECT_EQ(rt_.runs[1].args[0], "migrate");
  EXPECT_EQ(rt_.runs[1].env.count("DSN"), 1u);  // default variable name
}

}  // namespace
}  // namespace su
