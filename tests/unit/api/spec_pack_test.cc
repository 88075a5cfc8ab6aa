// PackSpec / UnpackSpec (api/spec_pack.h): every field survives the round trip.
#include "api/spec_pack.h"

#include <gtest/gtest.h>

namespace su {
namespace {

// Every field set to something other than its default. A field added to SchemaUpgrade must be set
// here too (spec_pack.cc's size check points at this test).
SchemaUpgrade EveryFieldSet() {
  SchemaUpgrade s;
  s.name = "kratos";
  s.namespace_ = "ciam";
  s.generation = 1LL << 40;
  s.uid = "0b6c8c0e-1111-2222-3333-444455556666";
  s.annotations = {{"olympus.io/approve", "abc"}, {"note", "a b c"}};
  s.labels = {{"app", "kratos"}};
  s.service = "kratos";
  s.target_version = "v1.3.0";
  s.image = "oryd/kratos:v1.3.0";
  s.workload = {"Deployment", "kratos", "server", "/srv/compose.yaml", "kratos-svc", "ciam"};
  s.dsn.kind = DsnSource::Kind::kSecretKeyRef;
  s.dsn.env = "DSN";
  s.dsn.file = "/run/dsn";
  s.dsn.secret_name = "kratos-db";
  s.dsn.secret_key = "dsn";
  s.migrations.engine = "sql";
  s.migrations.command = {"migrate", "sql", "up", "-e", "--yes"};
  s.migrations.status_command = {"migrate", "sql", "status"};
  s.migrations.source = kMigrationSourceConfigMap;
  s.migrations.path = "/migrations";
  s.migrations.config_map_name = "kratos-migrations";
  s.migrations.config_map_keys = {"0001_a.up.sql", "0001_a.down.sql"};
  s.migrations.schema = "history";
  PolicySpec& p = s.policy;
  p.dry_run = true;
  p.approval_required = true;
  p.approved_plan_hash = "0123456789abcdef";
  p.backup_enabled = true;
  p.backup_dir = "/backups";
  p.backup_retention = 7;
  p.backup_pvc_claim = "backups";
  p.backup_pvc_sub_path = "kratos";
  p.restore_allow_data_loss = true;
  p.window = MaintenanceWindow{"22:00", "02:00", "Europe/Paris", {"Sat", "Sun"}};
  p.lock_timeout = std::chrono::milliseconds(1234);
  p.statement_timeout = std::chrono::milliseconds(99999999999LL);
  p.lock_wait = std::chrono::milliseconds(0);
  p.retries = RetryPolicy{-3, std::chrono::milliseconds(7), std::chrono::milliseconds(8)};
  p.on_failure = OnFailure::kRunDown;
  p.accept_drift = {"0003", "*"};
  p.fail_on_lint_errors = true;
  p.blocked_session_limit = std::chrono::milliseconds(30000);
  p.lock_watch_after = std::chrono::milliseconds(0);
  p.verify_settle = std::chrono::milliseconds(1);
  p.allow_downgrade = true;
  p.step_through = true;
  p.rehearse = true;
  p.contract_after = std::chrono::hours(24);
  p.contract_approval_required = true;
  p.contract_approved_hash = "fedcba9876543210";
  p.rehearse_on_set = true;
  p.rehearse_on = DsnSource{DsnSource::Kind::kFile, "REHEARSAL_DSN", "/run/rehearsal.dsn", "rehearsal-db", "dsn"};
  s.depends_on = {{"hydra"}, {"athena"}};
  s.upgrade_path = {{"v1.1.0", "0042"}, {"v1.2.0", ""}};
  s.spec_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  s.source_file = "/srv/manifests/kratos.yaml";
  s.source_line = 12;
  return s;
}

TEST(SpecPack, EveryFieldSurvivesTheRoundTrip) {
  SchemaUpgrade s = EveryFieldSet();
  std::string packed = PackSpec(s);
  SchemaUpgrade back = UnpackSpec(packed);
  EXPECT_TRUE(back == s);
  // Field groups one by one, so a failure says where.
  EXPECT_TRUE(back.workload == s.workload);
  EXPECT_TRUE(back.dsn == s.dsn);
  EXPECT_TRUE(back.migrations == s.migrations);
  EXPECT_TRUE(back.policy == s.policy);
  EXPECT_EQ(back.depends_on, s.depends_on);
  EXPECT_EQ(ComputeSpecHash(back), ComputeSpecHash(s));
}

TEST(SpecPack, TheDefaultSpecSurvivesToo) {
  SchemaUpgrade s;
  EXPECT_TRUE(UnpackSpec(PackSpec(s)) == s);
  SchemaUpgrade w = EveryFieldSet();
  w.policy.window.reset();  // an absent optional is not an empty one
  EXPECT_TRUE(UnpackSpec(PackSpec(w)) == w);
}

TEST(SpecPack, ASpecHashThatIsNotHexSurvivesToo) {
  SchemaUpgrade s = EveryFieldSet();
  for (const std::string& h : std::vector<std::string>{"", "short", std::string(64, 'F'), std::string(63, 'a') + "g"}) {
    s.spec_hash = h;
    EXPECT_EQ(UnpackSpec(PackSpec(s)).spec_hash, h);
  }
}

TEST(SpecPack, IsMuchSmallerThanTheStruct) {
  // The point of packing: a typical manifest's spec in a few hundred bytes, not 1.4 KB plus heap.
  SchemaUpgrade s;
  s.name = "r00001";
  s.namespace_ = "bench";
  s.target_version = "20260101000010";
  s.dsn.env = "BENCH_DSN_1";
  s.migrations.engine = "sql";
  s.migrations.path = "/tmp/su-bench-ctrl-abcdefgh/n10000/migrations";
  s.spec_hash = std::string(64, 'a');
  s.source_file = "/tmp/su-bench-ctrl-abcdefgh/n10000/manifests/r00001.yaml";
  EXPECT_LT(PackSpec(s).size(), 300u);
}

}  // namespace
}  // namespace su
