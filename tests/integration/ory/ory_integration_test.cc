// Integration test of the ory engine with the fixture images (tests/fixtures/images) run by
// podman against a real PostgreSQL: planning from the image's own `migrate sql status`, applying
// with `migrate sql up -e --yes`, recording exactly what a run added, and a migrator that fails
// half way (the v1.2.1-broken tag).
#include <gtest/gtest.h>

#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/ory/ory_engine.h"
#include "reconcilers/engines/ory/popx_history.h"
#include "tests/support/podman/local_podman.h"
#include "tests/support/pg_server.h"

namespace su {
namespace {

const std::vector<std::string> kKratosUp = {"kratos", "migrate", "sql", "up", "-e", "--yes"};
const std::vector<std::string> kHydraUp = {"hydra", "migrate", "sql", "up", "-e", "--yes"};

class OryIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Status s = testing::BuildFixtureImages();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void SetUp() override {
    std::string plain = testing::PgServer::Shared().CreateDatabase("ory");
    // The Ory-style DSN carries options libpq does not know; the images must ignore them.
    dsn_ = plain + "?sslmode=disable&max_conns=20";
    auto db = ConnectPostgres(plain, "ory-it");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }

  std::unique_ptr<Engine> Kratos(const std::string& tag) {
    return NewOryEngine(&rt_, "localhost/oryd/kratos:" + tag, kKratosUp, {}, "DSN", dsn_);
  }

  std::vector<std::string> Versions() {
    auto v = ReadPopxVersions(db_.get());
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::vector<std::string>{};
  }

  static std::vector<std::string> StepVersions(const RunReport& r) {
    std::vector<std::string> out;
    for (const auto& s : r.steps) out.push_back(s.version);
    return out;
  }

  testing::LocalPodman rt_;
  std::string dsn_;
  std::unique_ptr<Database> db_;
};

const std::vector<std::string> kKratos110 = {"20240101000001000000", "20240101000002000000", "20240101000003000000",
                                             "20240101000004000000"};
const std::vector<std::string> kKratos120Only = {"20240301000001000000", "20240301000002000000",
                                                 "20240301000003000000"};

TEST_F(OryIntegrationTest, UpgradeFromV110ToV120AddsExactlyTheNewVersionsOnce) {
  auto v110 = Kratos("v1.1.0")->Apply(db_.get(), RunContext{});
  ASSERT_TRUE(v110.status.ok()) << v110.status.ToString();
  EXPECT_EQ(StepVersions(v110), kKratos110);

  auto engine = Kratos("v1.2.0");
  auto st = engine->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->applied.size(), 4u);
  ASSERT_EQ(st->pending.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(st->pending[i].version, kKratos120Only[i]);
  EXPECT_EQ(st->pending[0].name, "identity_verifiable_addresses");
  EXPECT_EQ(st->current_version, "20240101000004000000");
  EXPECT_EQ(st->latest_version, "20240301000003000000");

  // The forgotten migration: v1.2.0 refuses to serve a v1.1.0 schema.
  ContainerRunSpec serve;
  serve.image = "localhost/oryd/kratos:v1.2.0";
  serve.args = {"serve"};
  serve.env["DSN"] = dsn_;
  auto refused = rt_.RunOnce(serve);
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->exit_code, 1);
  EXPECT_NE(refused->out.find("schema mismatch"), std::string::npos) << refused->out << refused->err;

  RunContext ctx;
  ctx.resource = "ciam/kratos";
  auto rep = engine->Apply(db_.get(), ctx);
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  EXPECT_EQ(StepVersions(rep), kKratos120Only);
  EXPECT_EQ(rep.steps[1].name, "sessions_add_aal");
  EXPECT_EQ(Versions().size(), 7u);
  auto aal = db_->Query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'sessions' AND "
                        "column_name = 'aal'");
  ASSERT_TRUE(aal.ok());
  EXPECT_EQ(aal->Get(0, 0), "1");

  auto again = engine->Apply(db_.get(), ctx);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.steps.empty());
  auto after = engine->Observe(db_.get());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->pending.empty());

  AuditLog audit(db_.get());
  auto rows = audit.List(100, "ciam/kratos");
  ASSERT_TRUE(rows.ok());
  int per_version = 0, runs = 0;
  for (const auto& e : *rows) {
    EXPECT_EQ(e.status, "succeeded");
    if (e.version.empty()) ++runs; else ++per_version;
  }
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(per_version, 3);
}

TEST_F(OryIntegrationTest, BrokenTagFailsWithContainerOutputAndKeepsWhatItCommitted) {
  auto v120 = Kratos("v1.2.0")->Apply(db_.get(), RunContext{});
  ASSERT_TRUE(v120.status.ok()) << v120.status.ToString();
  ASSERT_EQ(v120.steps.size(), 7u);

  auto rep = Kratos("v1.2.1-broken")->Apply(db_.get(), RunContext{});
  ASSERT_FALSE(rep.status.ok());
  const std::string& msg = rep.status.message();
  EXPECT_NE(msg.find("exited with code 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("relation \"session_device\" does not exist"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(testing::PgServer::Shared().password()), std::string::npos) << msg;
  EXPECT_EQ(StepVersions(rep), std::vector<std::string>{"20240501000001000000"}) << msg;
  EXPECT_EQ(rep.failed_version, "20240501000002000000");

  auto versions = Versions();
  EXPECT_EQ(versions.size(), 8u);
  EXPECT_EQ(versions.back(), "20240501000001000000");
  // The failing migration's first statement was rolled back with it.
  auto col = db_->Query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'sessions' AND "
                        "column_name = 'devices_count'");
  ASSERT_TRUE(col.ok());
  EXPECT_EQ(col->Get(0, 0), "0");

  AuditLog audit(db_.get());
  auto rows = audit.List(3);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);  // newest first: failed version, added version, the run
  EXPECT_EQ((*rows)[0].version, "20240501000002000000");
  EXPECT_EQ((*rows)[0].status, "failed");
  EXPECT_EQ((*rows)[1].version, "20240501000001000000");
  EXPECT_EQ((*rows)[1].status, "succeeded");
  EXPECT_EQ((*rows)[2].status, "failed");
  EXPECT_NE((*rows)[2].error.find("session_device"), std::string::npos) << (*rows)[2].error;
}

TEST_F(OryIntegrationTest, HydraUpgradeFromV220ToV230) {
  auto old = NewOryEngine(&rt_, "localhost/oryd/hydra:v2.2.0", kHydraUp, {}, "DSN", dsn_)->Apply(db_.get(), {});
  ASSERT_TRUE(old.status.ok()) << old.status.ToString();
  EXPECT_EQ(old.steps.size(), 3u);
  auto engine = NewOryEngine(&rt_, "localhost/oryd/hydra:v2.3.0", kHydraUp, {}, "DSN", dsn_);
  auto st = engine->Observe(db_.get());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->pending.size(), 2u);
  EXPECT_EQ(st->pending[0].name, "hydra_jwk");
  auto rep = engine->Apply(db_.get(), {});
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  EXPECT_EQ(StepVersions(rep), (std::vector<std::string>{"20240410000001000000", "20240410000002000000"}));
}

}  // namespace
}  // namespace su
