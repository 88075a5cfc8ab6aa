// Upgrade paths and onFailure rollback end to end: the real `schema-upgrade apply`, real podman and
// podman-compose, a real PostgreSQL. Busybox images imported per run (v1.0.0, v1.1.0, v1.2.0 stay
// up; v1.3.0 exits at once). A jump v1.0.0 -> v1.2.0 over the spec.upgradePath release v1.1.0 is
// refused with nothing changed; with policy.stepThrough it walks v1.1.0 then v1.2.0, each release's
// migrations applied once and before its bump, each image bumped and verified in order (the audit
// log says so). onFailure rollback after a failed verify puts the image back, then runs the down
// migrations, in that order (the audit log's ids), and the old container serves again.
// stepThrough with policy.approval: each release's step waits for its own approval (named in the
// status and the message, nothing changed before it), a stale approval is refused naming the
// current hash, and the audit log records each step.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/cli_runner.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing: " << (needle) << "\nin: " << (haystack)

std::map<std::string, std::string> PodmanEnv() {
  return {{"CONTAINERS_CONF", SourceDir() + "/tests/fixtures/podman/containers.conf"}};
}

Result<ProcessResult> Podman(std::vector<std::string> args) {
  ProcessSpec ps;
  args.insert(args.begin(), "podman");
  ps.argv = args;
  ps.env = PodmanEnv();
  ps.timeout = std::chrono::milliseconds(120000);
  return PosixProcessRunner()->Run(ps);
}

class PodmanPathsTest : public ::testing::Test {
 protected:
  static inline std::unique_ptr<TempDir> images_dir_;
  static inline std::string repo_;
  static inline bool ready_ = false;
  static inline std::string setup_error_;

  static bool Import(const std::string& tar, const std::string& tag, const std::string& script) {
    auto r = Podman({"import", "--change", "ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"" + script + "\"]", tar,
                     "localhost/" + repo_ + ":" + tag});
    if (!r.ok() || !r->Succeeded()) {
      setup_error_ = "podman import " + tag + ": " + (r.ok() ? r->Tail(5) : r.status().ToString());
      return false;
    }
    return true;
  }

  static void SetUpTestSuite() {
    repo_ = "sutest/paths-" + std::to_string(getpid());
    images_dir_ = std::make_unique<TempDir>();
    std::string root = images_dir_->Path("rootfs");
    if (!LocalFileSystem()->MakeDirs(root + "/bin").ok() || symlink("busybox", (root + "/bin/sh").c_str()) != 0) {
      setup_error_ = "cannot create rootfs";
      return;
    }
    ProcessSpec cp, tar;
    cp.argv = {"cp", "/bin/busybox", root + "/bin/busybox"};
    tar.argv = {"tar", "-C", root, "-cf", images_dir_->Path("rootfs.tar"), "."};
    auto c = PosixProcessRunner()->Run(cp);
    auto t = PosixProcessRunner()->Run(tar);
    if (!c.ok() || !c->Succeeded() || !t.ok() || !t->Succeeded()) {
      setup_error_ = "cannot build rootfs.tar (is busybox-static installed?)";
      return;
    }
    const std::string stay_up = "trap 'exit 0' TERM; echo app up; while :; do sleep 1; done";
    for (const char* tag : {"v1.0.0", "v1.1.0", "v1.2.0"}) {
      if (!Import(images_dir_->Path("rootfs.tar"), tag, stay_up)) return;
    }
    if (!Import(images_dir_->Path("rootfs.tar"), "v1.3.0", "echo schema mismatch >&2; exit 1")) return;
    ready_ = true;
  }

  static void TearDownTestSuite() {
    for (const char* tag : {"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"}) {
      (void)Podman({"rmi", "-f", "localhost/" + repo_ + ":" + tag});
    }
    images_dir_.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(ready_) << setup_error_;
    static int n = 0;
    id_ = std::to_string(getpid()) + "-" + std::to_string(++n);
    project_ = "paths" + std::to_string(getpid()) + "x" + std::to_string(n);
    container_ = "sutest-paths-" + id_;
    dsn_ = PgServer::Shared().CreateDatabase("paths");
    auto db = ConnectPostgres(dsn_, "paths-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }

  void TearDown() override {
    (void)Podman({"rm", "-f", "-t", "0", "--ignore", container_});
    (void)Podman({"network", "rm", "-f", project_ + "_default"});
  }

  std::string Image(const std::string& tag) const { return repo_ + ":" + tag; }

  // The compose project running `tag`, started for real.
  void StartCompose(const std::string& tag) {
    compose_file_ = dir_.Write(project_ + "/docker-compose.yml",
                               "services:\n"
                               "  app:\n"
                               "    image: " + Image(tag) + "\n"
                               "    container_name: " + container_ + "\n"
                               "    restart: \"no\"\n");
    ProcessSpec up;
    up.argv = {"podman-compose", "-f", compose_file_, "up", "-d", "app"};
    up.env = PodmanEnv();
    up.timeout = std::chrono::milliseconds(120000);
    auto r = PosixProcessRunner()->Run(up);
    ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Tail(10) : r.status().ToString());
  }

  void WriteMigration(const std::string& name, const std::string& up, const std::string& down) {
    dir_.Write("migrations/" + name + ".up.sql", up);
    dir_.Write("migrations/" + name + ".down.sql", down);
  }

  // The manifest: `extra` is appended under spec (upgradePath, policy lines).
  void WriteManifest(const std::string& target, const std::string& extra) {
    manifest_ = dir_.Write("manifests/app.yaml",
                           "apiVersion: olympus.io/v1alpha1\n"
                           "kind: SchemaUpgrade\n"
                           "metadata:\n"  // block style: `approve` adds its annotation under it
                           "  name: app\n"
                           "  namespace: paths\n"
                           "spec:\n"
                           "  targetVersion: " + target + "\n"
                           "  workload:\n"
                           "    kind: ComposeService\n"
                           "    name: " + container_ + "\n"
                           "    service: app\n"
                           "    composeFile: ../" + project_ + "/docker-compose.yml\n"
                           "  database: {dsnFrom: {env: APP_DSN}}\n"
                           "  migrations: {engine: sql, path: ../migrations}\n" + extra);
  }

  CliResult Apply() { return Cli({"apply", "-f", manifest_, "--wait", "120s"}); }

  // The binary with the manifest's environment and this test's state folder.
  CliResult Cli(std::vector<std::string> args) {
    auto env = PodmanEnv();
    env["APP_DSN"] = dsn_;
    args.push_back("--state-dir");
    args.push_back(dir_.Path("state"));
    return RunCli(args, env);
  }

  std::string ReadManifest() {
    auto r = LocalFileSystem()->ReadFile(manifest_);
    return r.ok() ? *r : r.status().ToString();
  }

  std::optional<ResourceStatus> Status() {
    auto store = NewDirStatusStore(LocalFileSystem(), dir_.Path("state") + "/status");
    auto st = store->Load("paths/app");
    if (!st.ok() || !st->has_value()) return std::nullopt;
    return **st;
  }

  std::string Sql(const std::string& q) {
    auto r = db_->Query(q);
    if (!r.ok()) return "ERROR " + r.status().ToString();
    std::string out;
    for (size_t i = 0; i < r->rows.size(); ++i) out += r->Get(i, 0) + "\n";
    return out;
  }

  // "direction status version" of every audit row of the resource, in the order written, with
  // the bump's "from -> to" and the detail's first words where they say which way things went.
  std::string AuditTrail() {
    if (Sql("SELECT to_regclass('schema_upgrade_log') IS NULL") == "t\n") return "";  // nothing written yet
    return Sql("SELECT direction || ' ' || status || ' ' || version || "
               "CASE WHEN direction IN ('bump', 'rollback-image') THEN ' ' || detail ELSE '' END "
               "FROM schema_upgrade_log WHERE resource = 'paths/app' AND direction NOT IN ('upgrade-start') "
               "ORDER BY id");
  }

  std::string ReadCompose() {
    auto r = LocalFileSystem()->ReadFile(compose_file_);
    return r.ok() ? *r : r.status().ToString();
  }

  std::string RunningImage() {
    auto r = Podman({"inspect", "--format", "{{.ImageName}} {{.State.Running}}", container_});
    return r.ok() ? r->out : "";
  }

  TempDir dir_;
  std::string id_, project_, container_, dsn_, compose_file_, manifest_;
  std::unique_ptr<Database> db_;
};

TEST_F(PodmanPathsTest, SkipLevelJumpIsRefusedThenSteppedThroughReleaseByRelease) {
  StartCompose("v1.0.0");
  WriteMigration("20260101000001_accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n", "DROP TABLE accounts;\n");
  WriteMigration("20260101000002_roles", "CREATE TABLE roles (name text PRIMARY KEY);\n", "DROP TABLE roles;\n");
  WriteMigration("20260101000003_sessions", "CREATE TABLE sessions (id int PRIMARY KEY);\n", "DROP TABLE sessions;\n");
  const std::string path = "  upgradePath:\n    - {version: v1.1.0, migrationsUpTo: \"20260101000002\"}\n";
  WriteManifest("v1.2.0", path + "  policy: {verify: {settle: 1s}}\n");

  CliResult refused = Apply();
  EXPECT_EQ(refused.exit_code, 4) << "held back, like a downgrade: " << refused.out << refused.err;
  EXPECT_HAS(refused.out + refused.err, "Take the path v1.0.0 -> v1.1.0 -> v1.2.0");
  EXPECT_HAS(Sql("SELECT count(*) FROM pg_tables WHERE tablename IN ('accounts', 'schema_migration')"), "0");
  EXPECT_HAS(ReadCompose(), Image("v1.0.0"));
  ASSERT_TRUE(Status().has_value());
  EXPECT_EQ(Status()->phase, Phase::kFailed);

  WriteManifest("v1.2.0", path + "  policy: {stepThrough: true, verify: {settle: 1s}}\n");
  CliResult walked = Apply();
  ASSERT_EQ(walked.exit_code, 0) << walked.out << walked.err;

  EXPECT_EQ(Sql("SELECT version FROM schema_migration ORDER BY version"),
            "20260101000001\n20260101000002\n20260101000003\n");
  // Each migration once, v1.1.0's before its bump, v1.2.0's after v1.1.0 was verified.
  const std::string v100 = Image("v1.0.0"), v110 = Image("v1.1.0"), v120 = Image("v1.2.0");
  EXPECT_EQ(AuditTrail(),
            "path-step started v1.1.0\n"
            "up succeeded 20260101000001\n"
            "up succeeded 20260101000002\n"
            "bump succeeded v1.1.0 " + v100 + " -> " + v110 + "\n"
            "path-step succeeded v1.1.0\n"
            "up succeeded 20260101000003\n"
            "bump succeeded v1.2.0 " + v110 + " -> " + v120 + "\n");
  EXPECT_HAS(RunningImage(), "paths-" + std::to_string(getpid()) + ":v1.2.0 true");
  auto st = Status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->phase, Phase::kSucceeded);
  EXPECT_EQ(st->target_version, "v1.2.0");
  EXPECT_EQ(st->path_done, (std::vector<std::string>{"v1.1.0"}));

  CliResult again = Apply();  // converged: nothing runs twice
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM schema_upgrade_log WHERE direction = 'up'"), "3\n");
}

// policy.stepThrough with policy.approval.required, for real: each release of the path is its own
// plan, approved when it becomes the current step (docs/upgrade-paths.md). The first step waits
// with nothing changed, naming itself in the status as the message does; approving its hash runs
// that step only; the next step then waits with its own hash (the first approval does not carry
// over, and is refused when offered again, naming the current hash); approving it finishes the path.
TEST_F(PodmanPathsTest, StepThroughWithApprovalWaitsForEachStepsOwnApproval) {
  StartCompose("v1.0.0");
  WriteMigration("20260101000001_accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n", "DROP TABLE accounts;\n");
  WriteMigration("20260101000002_roles", "CREATE TABLE roles (name text PRIMARY KEY);\n", "DROP TABLE roles;\n");
  WriteMigration("20260101000003_sessions", "CREATE TABLE sessions (id int PRIMARY KEY);\n", "DROP TABLE sessions;\n");
  WriteManifest("v1.2.0", "  upgradePath:\n    - {version: v1.1.0, migrationsUpTo: \"20260101000002\"}\n"
                          "  policy: {stepThrough: true, approval: {required: true}, verify: {settle: 1s}}\n");
  const std::string v100 = Image("v1.0.0"), v110 = Image("v1.1.0"), v120 = Image("v1.2.0");

  // 1. The first step waits for its approval and changes nothing.
  CliResult waiting = Apply();
  ASSERT_EQ(waiting.exit_code, 4) << waiting.out << waiting.err;
  auto st = Status();
  ASSERT_TRUE(st.has_value());
  const std::string step1 = st->plan_hash;
  ASSERT_EQ(step1.size(), 16u) << st->message;
  EXPECT_EQ(st->phase, Phase::kWaiting);
  ASSERT_NE(FindCondition(*st, "Ready"), nullptr);
  EXPECT_EQ(FindCondition(*st, "Ready")->reason, "AwaitingApproval");
  EXPECT_HAS(st->message, "plan " + step1 + " needs approval (step v1.1.0 of the upgrade path v1.0.0 -> v1.1.0 -> "
                          "v1.2.0: each release's plan needs its own approval once it is the current step)");
  EXPECT_HAS(st->message, "spec.policy.approval.planHash: " + step1);
  EXPECT_EQ(st->path_step, "v1.1.0") << "the status names the waiting step, as the message does";
  EXPECT_EQ(st->path_step_started_at, "");
  EXPECT_TRUE(st->path_done.empty());
  CliResult shown = Cli({"status", "-f", manifest_});
  EXPECT_EQ(shown.exit_code, 0) << shown.out << shown.err;
  EXPECT_HAS(shown.out, "  path:        step v1.1.0 (not started)\n");
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_tables WHERE tablename IN ('accounts', 'roles', 'sessions', "
                "'schema_migration')"),
            "0\n")
      << "no migration, no history before the approval";
  EXPECT_EQ(AuditTrail(), "") << "no step started";
  EXPECT_HAS(ReadCompose(), v100);
  EXPECT_HAS(RunningImage(), ":v1.0.0 true");

  // 2. Approving the first step's plan runs that step only; the second waits for its own.
  CliResult approved = Cli({"approve", "-f", manifest_, "--hash", step1});
  ASSERT_EQ(approved.exit_code, 0) << approved.out << approved.err;
  EXPECT_HAS(approved.out, "approved plan " + step1 + " (2 pending migration(s))");
  CliResult first = Apply();
  ASSERT_EQ(first.exit_code, 4) << first.out << first.err;
  EXPECT_EQ(Sql("SELECT version FROM schema_migration ORDER BY version"), "20260101000001\n20260101000002\n");
  EXPECT_HAS(ReadCompose(), v110);
  EXPECT_HAS(RunningImage(), ":v1.1.0 true");
  EXPECT_EQ(AuditTrail(),
            "path-step started v1.1.0\n"
            "up succeeded 20260101000001\n"
            "up succeeded 20260101000002\n"
            "bump succeeded v1.1.0 " + v100 + " -> " + v110 + "\n"
            "path-step succeeded v1.1.0\n");
  st = Status();
  ASSERT_TRUE(st.has_value());
  const std::string step2 = st->plan_hash;
  ASSERT_EQ(step2.size(), 16u) << st->message;
  EXPECT_NE(step2, step1);
  EXPECT_EQ(st->phase, Phase::kWaiting);
  ASSERT_NE(FindCondition(*st, "Ready"), nullptr);
  EXPECT_EQ(FindCondition(*st, "Ready")->reason, "AwaitingApproval");
  EXPECT_HAS(st->message, "plan " + step2 + " of this step needs its own approval (the approved plan " + step1 +
                              " is another step's, or changed)");
  EXPECT_HAS(st->message, "(step v1.2.0 of the upgrade path v1.0.0 -> v1.1.0 -> v1.2.0");
  EXPECT_HAS(st->message, "spec.policy.approval.planHash: " + step2);
  EXPECT_EQ(st->path_step, "v1.2.0");
  EXPECT_EQ(st->path_done, (std::vector<std::string>{"v1.1.0"}));
  shown = Cli({"status", "-f", manifest_});
  EXPECT_HAS(shown.out, "  path:        step v1.2.0 (not started); done v1.1.0\n");

  // 3. The first step's approval is stale now: `approve` refuses it, naming the current hash, and
  // leaves the manifest as it was; apply (still under it) changes nothing.
  const std::string manifest_before = ReadManifest();
  CliResult stale = Cli({"approve", "-f", manifest_, "--hash", step1});
  EXPECT_EQ(stale.exit_code, 4) << stale.out << stale.err;
  EXPECT_HAS(stale.out + stale.err, "the current plan is " + step2 + ", not " + step1);
  EXPECT_EQ(ReadManifest(), manifest_before);
  CliResult again = Apply();
  EXPECT_EQ(again.exit_code, 4) << again.out << again.err;
  EXPECT_HAS(again.out + again.err, step2);
  EXPECT_EQ(Sql("SELECT count(*) FROM schema_migration"), "2\n");
  EXPECT_HAS(ReadCompose(), v110);

  // 4. Approving the second step's plan finishes the path.
  approved = Cli({"approve", "-f", manifest_, "--hash", step2});
  ASSERT_EQ(approved.exit_code, 0) << approved.out << approved.err;
  CliResult last = Apply();
  ASSERT_EQ(last.exit_code, 0) << last.out << last.err;
  EXPECT_EQ(Sql("SELECT version FROM schema_migration ORDER BY version"),
            "20260101000001\n20260101000002\n20260101000003\n");
  EXPECT_HAS(ReadCompose(), v120);
  EXPECT_HAS(RunningImage(), ":v1.2.0 true");
  EXPECT_EQ(AuditTrail(),
            "path-step started v1.1.0\n"
            "up succeeded 20260101000001\n"
            "up succeeded 20260101000002\n"
            "bump succeeded v1.1.0 " + v100 + " -> " + v110 + "\n"
            "path-step succeeded v1.1.0\n"
            "up succeeded 20260101000003\n"
            "bump succeeded v1.2.0 " + v110 + " -> " + v120 + "\n");
  st = Status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->phase, Phase::kSucceeded);
  EXPECT_EQ(st->path_step, "");
  EXPECT_EQ(st->path_done, (std::vector<std::string>{"v1.1.0"}));
}

TEST_F(PodmanPathsTest, CombinedRollbackPutsTheImageBackThenTheSchema) {
  StartCompose("v1.2.0");
  WriteMigration("20260101000001_accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n", "DROP TABLE accounts;\n");
  WriteMigration("20260101000002_roles", "CREATE TABLE roles (name text PRIMARY KEY);\n", "DROP TABLE roles;\n");
  WriteManifest("v1.3.0", "  policy: {onFailure: rollback, verify: {settle: 1s}}\n");

  CliResult r = Apply();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;

  const std::string v120 = Image("v1.2.0"), v130 = Image("v1.3.0");
  EXPECT_EQ(AuditTrail(),
            "up succeeded 20260101000001\n"
            "up succeeded 20260101000002\n"
            "bump succeeded v1.3.0 " + v120 + " -> " + v130 + "\n"
            "rollback started v1.3.0\n"
            "rollback-image succeeded v1.3.0 " + v130 + " -> " + v120 + "\n"
            "down succeeded 20260101000002\n"
            "down succeeded 20260101000001\n"
            "rollback succeeded v1.3.0\n"
            "on-failure succeeded v1.3.0\n");
  EXPECT_EQ(Sql("SELECT count(*) FROM schema_migration"), "0\n");
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_tables WHERE tablename IN ('accounts', 'roles')"), "0\n");
  EXPECT_HAS(ReadCompose(), v120);
  EXPECT_HAS(RunningImage(), ":v1.2.0 true");
  auto st = Status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->phase, Phase::kFailed);
  EXPECT_HAS(st->failure_action, "rollback: rollbackImage: image restored to " + v120);
  EXPECT_HAS(st->failure_action, "then the schema: runDown: 2 migration(s) rolled back");
}

// The combined rollback's schema step decided on structured outcomes (undo.h): a down file that
// fails part-way stops there (the backup is not restored over a partly undone schema) and the
// audit log and status say so; a first down file that fails changed nothing (it ran in its own
// transaction), so the pre-upgrade backup is restored instead.
TEST_F(PodmanPathsTest, CombinedRollbackWhoseDownFileFailsPartWayStopsThereAndSaysSo) {
  StartCompose("v1.2.0");
  WriteMigration("20260101000001_accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n",
                 "DROP TABLE account_typo;\n");
  WriteMigration("20260101000002_roles", "CREATE TABLE roles (name text PRIMARY KEY);\n", "DROP TABLE roles;\n");
  WriteManifest("v1.3.0", "  policy: {onFailure: rollback, verify: {settle: 1s}, backup: {enabled: true, dir: " +
                              dir_.Path("backups") + "}}\n");

  CliResult r = Apply();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;

  const std::string v120 = Image("v1.2.0"), v130 = Image("v1.3.0");
  EXPECT_EQ(AuditTrail(),
            "backup succeeded v1.3.0\n"
            "up succeeded 20260101000001\n"
            "up succeeded 20260101000002\n"
            "bump succeeded v1.3.0 " + v120 + " -> " + v130 + "\n"
            "rollback started v1.3.0\n"
            "rollback-image succeeded v1.3.0 " + v130 + " -> " + v120 + "\n"
            "down succeeded 20260101000002\n"
            "down failed 20260101000001\n"
            "rollback failed v1.3.0\n"
            "on-failure succeeded v1.3.0\n");
  EXPECT_EQ(Sql("SELECT version FROM schema_migration"), "20260101000001\n");
  EXPECT_EQ(Sql("SELECT tablename FROM pg_tables WHERE tablename IN ('accounts', 'roles')"), "accounts\n")
      << "roles undone, accounts kept, no restore over it";
  EXPECT_HAS(RunningImage(), ":v1.2.0 true");
  auto st = Status();
  ASSERT_TRUE(st.has_value());
  EXPECT_HAS(st->failure_action, "rollback: rollbackImage: image restored to " + v120);
  EXPECT_HAS(st->failure_action, "then the schema: runDown FAILED after 1 migration(s) rolled back (20260101000002)");
  EXPECT_HAS(st->failure_action, "account_typo");
  EXPECT_EQ(st->current_version, "20260101000001");
}

TEST_F(PodmanPathsTest, CombinedRollbackWhoseFirstDownFileFailsRestoresTheBackup) {
  StartCompose("v1.2.0");
  WriteMigration("20260101000001_accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\n", "DROP TABLE accounts;\n");
  ASSERT_TRUE(db_->ExecScript("CREATE TABLE kept (id int); INSERT INTO kept VALUES (7);").ok());
  WriteMigration("20260101000002_roles", "CREATE TABLE roles (name text PRIMARY KEY);\n", "DROP TABLE role_typo;\n");
  WriteManifest("v1.3.0", "  policy: {onFailure: rollback, verify: {settle: 1s}, backup: {enabled: true, dir: " +
                              dir_.Path("backups") + "}}\n");

  CliResult r = Apply();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;

  EXPECT_EQ(Sql("SELECT count(*) FROM pg_tables WHERE tablename IN ('accounts', 'roles')"), "0\n");
  EXPECT_EQ(Sql("SELECT id FROM kept"), "7\n") << "the database as it was before the upgrade";
  EXPECT_HAS(RunningImage(), ":v1.2.0 true");
  // The restore puts back the whole database but the audit log: the failed upgrade's rows, the
  // image put back and the failed down file are still there, in order, the restore after them.
  // (Before, the restore took the audit table back to the backup's moment with the rest.)
  const std::string v120 = Image("v1.2.0"), v130 = Image("v1.3.0");
  EXPECT_EQ(AuditTrail(),
            "backup succeeded v1.3.0\n"
            "up succeeded 20260101000001\n"
            "up succeeded 20260101000002\n"
            "bump succeeded v1.3.0 " + v120 + " -> " + v130 + "\n"
            "rollback started v1.3.0\n"
            "rollback-image succeeded v1.3.0 " + v130 + " -> " + v120 + "\n"
            "down failed 20260101000002\n"
            "restore succeeded v1.3.0\n"
            "rollback succeeded v1.3.0\n"
            "on-failure succeeded v1.3.0\n");
  auto st = Status();
  ASSERT_TRUE(st.has_value());
  EXPECT_HAS(st->failure_action, "then the schema: restoreBackup: database restored from " + dir_.Path("backups"));
  EXPECT_HAS(st->failure_action, "(down migrations refused: runDown FAILED after 0 migration(s) rolled back");
}

}  // namespace
}  // namespace su::testing
