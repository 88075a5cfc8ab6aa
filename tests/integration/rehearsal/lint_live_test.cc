// Lint against the live database, on a real server: findings about tables an earlier migration of
// the same plan created are dropped (those tables are new and empty), and the rest are ranked by
// the live table's row estimate (pg_class.reltuples), largest first, within each severity.
#include <gtest/gtest.h>

#include "reconcilers/base/fs.h"
#include "reconcilers/engines/sql/sql_engine.h"
#include "reconcilers/schemaupgrade/lint_live.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using su::testing::PgServer;
using su::testing::TempDir;

class LintLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = PgServer::Shared().CreateDatabase("lintlive");
    auto db = ConnectPostgres(dsn_, "lint-live-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    su_.name = "svc";
    su_.namespace_ = "default";
    su_.service = "svc";
    su_.target_version = "v2";
    su_.migrations.engine = "sql";
  }

  Plan PlanNow() {
    auto engine = NewSqlEngine(LocalFileSystem(), dir_.path(), "public", {}, true);
    auto st = engine->Observe(db_.get());
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    Status s = AddLiveTableRows(db_.get(), *st);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return BuildPlan(su_, *st, "", "");
  }

  std::string dsn_;
  std::unique_ptr<Database> db_;
  SchemaUpgrade su_;
  TempDir dir_;
};

// The report's fixture in small: a fresh database and a service's whole history, where the first
// migrations create the tables that later ones index, constrain and alter.
TEST_F(LintLiveTest, AFreshDatabaseGetsNoFindingsAboutTablesThePlanItselfCreates) {
  std::string create;
  for (int t = 1; t <= 20; ++t) create += "CREATE TABLE t" + std::to_string(t) + " (id int PRIMARY KEY, v text, ref int);\n";
  dir_.Write("001_init.up.sql", create);
  int n = 2;
  for (int t = 1; t <= 20; ++t) {
    const std::string tt = "t" + std::to_string(t);
    auto file = [&](const std::string& name, const std::string& sql) {
      char v[8];
      std::snprintf(v, sizeof v, "%03d", n++);
      dir_.Write(std::string(v) + "_" + name + ".up.sql", sql);
    };
    file(tt + "_index", "CREATE INDEX " + tt + "_v ON " + tt + " (v);\n");
    file(tt + "_fk", "ALTER TABLE " + tt + " ADD CONSTRAINT " + tt + "_ref FOREIGN KEY (ref) REFERENCES t1 (id);\n");
    file(tt + "_notnull", "ALTER TABLE " + tt + " ALTER COLUMN v SET NOT NULL;\n");
    file(tt + "_type", "ALTER TABLE " + tt + " ALTER COLUMN v TYPE varchar(200);\n");
  }

  Plan p = PlanNow();

  ASSERT_EQ(p.state.pending.size(), 81u);
  EXPECT_EQ(p.findings.size(), 0u) << p.findings.size() << " finding(s), first: "
                                   << (p.findings.empty() ? "" : p.findings[0].file + ": " + p.findings[0].message);
  for (const auto& m : p.state.pending) EXPECT_TRUE(m.findings.empty()) << m.version;
}

TEST_F(LintLiveTest, FindingsOnBigLiveTablesRankAboveThoseOnEmptyOnes) {
  ASSERT_TRUE(db_->ExecScript("CREATE TABLE small (id int PRIMARY KEY, v text); CREATE TABLE big (id int PRIMARY KEY, v text);"
                              "INSERT INTO big SELECT g, 'x' FROM generate_series(1, 5000) g; ANALYZE big; ANALYZE small")
                  .ok());
  // File order puts the empty table first; the ranking puts the big one first.
  dir_.Write("1_small.up.sql", "CREATE INDEX small_v ON small (v);\n");
  dir_.Write("2_big.up.sql", "CREATE INDEX big_v ON big (v);\n");
  dir_.Write("3_new.up.sql", "CREATE TABLE fresh (id int);\n");
  dir_.Write("4_new_index.up.sql", "CREATE INDEX fresh_id ON fresh (id);\n");

  Plan p = PlanNow();

  ASSERT_EQ(p.findings.size(), 2u) << "the index on the plan's own table is not reported";
  EXPECT_EQ(p.findings[0].table, "big");
  EXPECT_EQ(p.findings[0].table_rows, 5000);
  EXPECT_EQ(p.findings[1].table, "small");
  EXPECT_EQ(p.findings[1].table_rows, 0);
  const std::string text = RenderPlanText(p);
  EXPECT_LT(text.find("2_big.up.sql"), text.find("1_small.up.sql")) << text;
  EXPECT_NE(text.find("~5000 rows"), std::string::npos) << text;
}

}  // namespace
}  // namespace su
