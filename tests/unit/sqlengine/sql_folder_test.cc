// Unit tests for the sql engine's folder reader: naming, numeric ordering, pairing and the errors
// a user sees for a bad folder. An in-memory FileSystem stands in for the disk.
#include "reconcilers/engines/sql/sql_folder.h"
#include "reconcilers/engines/sql/rollback_phases.h"

#include <gtest/gtest.h>

#include <map>

#include "reconcilers/base/sha256.h"

namespace su {
namespace {

class MemFs : public FileSystem {
 public:
  std::map<std::string, std::string> files;  // full path -> content
  std::vector<std::string> dirs;

  Result<std::string> ReadFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return Status::Error(Code::kNotFound, path + ": no such file");
    return it->second;
  }
  Status WriteFileAtomic(const std::string& path, const std::string& content) override {
    files[path] = content;
    return Status::Ok();
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    if (!IsDir(dir)) return Status::Error(Code::kNotFound, dir + ": cannot list");
    std::vector<std::string> out;
    std::string prefix = dir + "/";
    for (const auto& [p, c] : files) {
      if (p.rfind(prefix, 0) == 0 && p.find('/', prefix.size()) == std::string::npos) out.push_back(p.substr(prefix.size()));
    }
    for (const auto& d : dirs) {
      if (d.rfind(prefix, 0) == 0 && d.find('/', prefix.size()) == std::string::npos) out.push_back(d.substr(prefix.size()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  bool Exists(const std::string& path) override { return files.count(path) || IsDir(path); }
  bool IsDir(const std::string& path) override {
    return std::find(dirs.begin(), dirs.end(), path) != dirs.end();
  }
  Status MakeDirs(const std::string& path) override {
    dirs.push_back(path);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    files.erase(path);
    return Status::Ok();
  }
};

class SqlFolderTest : public ::testing::Test {
 protected:
  void SetUp() override { fs_.dirs.push_back("/m"); }
  void Add(const std::string& name, const std::string& content = "SELECT 1;") { fs_.files["/m/" + name] = content; }
  MemFs fs_;
};

TEST(CompareVersionsTest, OrdersNumericallyNotLexically) {
  EXPECT_LT(CompareVersions("9", "10"), 0);
  EXPECT_GT(CompareVersions("10", "9"), 0);
  EXPECT_EQ(CompareVersions("007", "7"), 0);
  EXPECT_LT(CompareVersions("20150100000001000000", "20150100000001000001"), 0);
  EXPECT_LT(CompareVersions("20260515", "20150100000001000000"), 0);
  EXPECT_EQ(CompareVersions("123", "123"), 0);
}

TEST(ParseSqlFileNameTest, ParsesUpDownAndDialects) {
  auto up = ParseSqlFileName("20260515_add_role.up.sql");
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->version, "20260515");
  EXPECT_EQ(up->name, "add_role");
  EXPECT_TRUE(up->up);
  EXPECT_FALSE(up->skipped);

  auto down = ParseSqlFileName("20150100000001000000_networks.postgres.down.sql");
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(down->version, "20150100000001000000");
  EXPECT_EQ(down->name, "networks");
  EXPECT_FALSE(down->up);

  auto mysql = ParseSqlFileName("20150100000001000000_networks.mysql.up.sql");
  ASSERT_TRUE(mysql.ok());
  EXPECT_TRUE(mysql->skipped);
  auto readme = ParseSqlFileName("README.md");
  ASSERT_TRUE(readme.ok());
  EXPECT_TRUE(readme->skipped);
}

TEST(ParseSqlFileNameTest, RejectsMalformedNamesNamingTheFile) {
  for (const std::string bad : {"add_role.up.sql", "2026_add_role.sql", "2026add.up.sql", "2026_.up.sql",
                                "2026_add role.up.sql", "2026_add.weird.up.sql", "v1_add.up.sql"}) {
    auto r = ParseSqlFileName(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
}

TEST_F(SqlFolderTest, ReadsPairsInNumericOrderWithChecksums) {
  Add("10_c.up.sql", "CREATE TABLE c();");
  Add("9_b.up.sql", "CREATE TABLE b();");
  Add("9_b.down.sql", "DROP TABLE b;");
  Add("1_a.up.sql", "CREATE TABLE a();");
  Add("README.md", "docs");
  Add("notes.txt", "ignored");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].version, "1");
  EXPECT_EQ((*r)[1].version, "9");
  EXPECT_EQ((*r)[2].version, "10");
  EXPECT_EQ((*r)[1].name, "b");
  EXPECT_EQ((*r)[1].up_path, "/m/9_b.up.sql");
  EXPECT_EQ((*r)[1].down_path, "/m/9_b.down.sql");
  EXPECT_TRUE((*r)[0].down_path.empty());
  EXPECT_EQ((*r)[2].up_sql, "CREATE TABLE c();");
  EXPECT_EQ((*r)[2].checksum, Sha256Hex("CREATE TABLE c();"));
  EXPECT_EQ((*r)[2].checksum.size(), 64u);
}

TEST_F(SqlFolderTest, ReadsOryStyleFolderSkippingOtherDialects) {
  Add("20150100000001000000_networks.postgres.up.sql", "CREATE TABLE networks();");
  Add("20150100000001000000_networks.postgres.down.sql", "DROP TABLE networks;");
  Add("20150100000001000000_networks.mysql.up.sql", "mysql stuff");
  Add("20150100000001000000_networks.cockroach.up.sql", "crdb stuff");
  Add("20150100000001000000_networks.sqlite3.up.sql", "sqlite stuff");
  Add("20191100000001000000_identities.postgres.up.sql", "CREATE TABLE identities();");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "networks");
  EXPECT_EQ((*r)[0].up_sql, "CREATE TABLE networks();");
  EXPECT_FALSE((*r)[0].down_path.empty());
  EXPECT_EQ((*r)[1].version, "20191100000001000000");
}

TEST_F(SqlFolderTest, IgnoresSubfoldersButRefusesOneNamedLikeAMigration) {
  Add("1_a.up.sql");
  fs_.dirs.push_back("/m/archive");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size(), 1u);
  // Skipping it silently would apply the rest without version 2.
  fs_.dirs.push_back("/m/2_old.up.sql");
  auto bad = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("/m/2_old.up.sql: is a directory named like a migration file"),
            std::string::npos)
      << bad.status().message();
}

TEST(ParseSqlFileNameTest, PopxNamesWithDialectAndAutocommit) {
  auto ac = ParseSqlFileName("20250912000000000000_kratos_secret_pagination.autocommit.up.sql");
  ASSERT_TRUE(ac.ok()) << ac.status().ToString();
  EXPECT_TRUE(ac->autocommit);
  EXPECT_FALSE(ac->postgres);
  EXPECT_EQ(ac->name, "kratos_secret_pagination");
  auto pg = ParseSqlFileName("20250912000000000001_idx.postgres.autocommit.down.sql");
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  EXPECT_TRUE(pg->autocommit);
  EXPECT_TRUE(pg->postgres);
  EXPECT_FALSE(pg->up);
  for (const char* other : {"1_a.cockroach.autocommit.up.sql", "1_a.crdb.up.sql", "1_a.mariadb.down.sql",
                            "1_a.sqlite.up.sql"}) {
    auto r = ParseSqlFileName(other);
    ASSERT_TRUE(r.ok()) << other;
    EXPECT_TRUE(r->skipped) << other;
  }
  for (const char* syn : {"1_a.pg.up.sql", "1_a.postgresql.up.sql"}) {
    auto r = ParseSqlFileName(syn);
    ASSERT_TRUE(r.ok()) << syn;
    EXPECT_TRUE(r->postgres) << syn;
  }
  // A typo is an error, not a silently skipped migration; so is an order popx would not match.
  for (const char* bad : {"1_a.postgress.up.sql", "1_a.autocommit.postgres.up.sql", "1_a.postgres.x.up.sql"}) {
    auto r = ParseSqlFileName(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST_F(SqlFolderTest, PostgresFileBeatsTheDialectLessOneOfTheSameVersion) {
  Add("20150100000001000000_networks.up.sql", "CREATE TABLE generic();");
  Add("20150100000001000000_networks.postgres.up.sql", "CREATE TABLE pg();");
  Add("20150100000001000000_networks.down.sql", "DROP TABLE generic;");
  Add("20150100000001000000_networks.postgres.down.sql", "DROP TABLE pg;");
  Add("20150100000001000000_networks.mysql.up.sql", "mysql");
  Add("20150100000002000000_only_generic.up.sql", "CREATE TABLE g2();");
  Add("20150100000003000000_idx.autocommit.up.sql", "CREATE INDEX CONCURRENTLY i ON pg (id);");
  Add("20150100000004000000_empty.up.sql", "");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].up_sql, "CREATE TABLE pg();");
  EXPECT_EQ((*r)[0].up_path, "/m/20150100000001000000_networks.postgres.up.sql");
  EXPECT_EQ((*r)[0].down_path, "/m/20150100000001000000_networks.postgres.down.sql");
  EXPECT_EQ((*r)[1].up_sql, "CREATE TABLE g2();");
  EXPECT_FALSE((*r)[1].up_autocommit);
  EXPECT_TRUE((*r)[2].up_autocommit);
  EXPECT_EQ((*r)[3].up_sql, "");
  // Two files of the same version and dialect are still a duplicate.
  Add("20150100000002000000_again.up.sql", "x");
  auto dup = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate migration version"), std::string::npos);
}

TEST_F(SqlFolderTest, NulByteOrBadUtf8InAnUpFileIsRefusedWithOffset) {
  Add("1_a.up.sql", std::string("CREATE TABLE a();\n") + '\0' + "CREATE TABLE b();\n");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("/m/1_a.up.sql: byte offset 18 (line 2): NUL byte"), std::string::npos)
      << r.status().message();
  Add("1_a.up.sql", "SELECT '\xe9t\xe9';\n");
  auto u = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("/m/1_a.up.sql: byte offset 8 (line 1): invalid UTF-8"), std::string::npos)
      << u.status().message();
}

TEST_F(SqlFolderTest, RejectsDuplicateVersionsNamingBothFiles) {
  Add("5_a.up.sql");
  Add("5_b.up.sql");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("5_a.up.sql"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("5_b.up.sql"), std::string::npos) << r.status().message();
}

TEST_F(SqlFolderTest, RejectsNumericallyEqualVersions) {
  Add("05_a.up.sql");
  Add("5_a.up.sql");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("duplicate migration version"), std::string::npos) << r.status().message();
}

TEST_F(SqlFolderTest, RejectsDownWithoutUp) {
  Add("1_a.up.sql");
  Add("2_b.down.sql");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("2_b.down.sql"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("without its up"), std::string::npos) << r.status().message();
}

TEST_F(SqlFolderTest, RejectsUpAndDownWithDifferentNames) {
  Add("3_create_users.up.sql");
  Add("3_drop_users.down.sql");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("3_create_users.up.sql"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("3_drop_users.down.sql"), std::string::npos) << r.status().message();
}

TEST_F(SqlFolderTest, RejectsMalformedSqlFileNamingIt) {
  Add("1_a.up.sql");
  Add("second.sql");
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("second.sql"), std::string::npos) << r.status().message();
}

TEST_F(SqlFolderTest, MissingFolderIsNotFound) {
  auto r = ReadSqlFolder(&fs_, "/nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_F(SqlFolderTest, EmptyFolderHasNoMigrations) {
  auto r = ReadSqlFolder(&fs_, "/m");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(MigrationDirectivesTest, PhaseDefaultsToExpandAndBadDirectivesNameFileAndLine) {
  auto none = ReadMigrationDirectives("001_a.up.sql", "CREATE TABLE a (id int);\n");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*MigrationPhaseOf("001_a.up.sql", *none), MigrationPhase::kExpand);
  auto c = ReadMigrationDirectives("002_b.up.sql", "-- drop it later\n-- schema-upgrade: phase=contract\nDROP TABLE a;\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*MigrationPhaseOf("002_b.up.sql", *c), MigrationPhase::kContract);
  auto e = ReadMigrationDirectives("003_c.up.sql", "-- schema-upgrade: phase=expand\nSELECT 1;\n");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*MigrationPhaseOf("003_c.up.sql", *e), MigrationPhase::kExpand);

  auto bad = ReadMigrationDirectives("004_d.up.sql", "-- schema-upgrade: phase=later\nSELECT 1;\n");
  ASSERT_TRUE(bad.ok());
  auto phase = MigrationPhaseOf("004_d.up.sql", *bad);
  ASSERT_FALSE(phase.ok());
  EXPECT_EQ(phase.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(phase.status().message(),
            "004_d.up.sql: line 1: phase=later is not a phase; write phase=expand (the default) or phase=contract");
  auto unknown = ReadMigrationDirectives("005_e.up.sql", "\n-- schema-upgrade: phaze=contract\nSELECT 1;\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("005_e.up.sql: line 2: unknown schema-upgrade directive 'phaze'"),
            std::string::npos)
      << unknown.status().message();
  auto late = ReadMigrationDirectives("006_f.up.sql", "SELECT 1;\n-- schema-upgrade: phase=contract\n");
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("006_f.up.sql: line 2:"), std::string::npos) << late.status().message();
  // The linter's own lines are not directives of ours.
  auto ignore = ReadMigrationDirectives("007_g.up.sql", "-- schema-upgrade: lint-ignore drop-table\nDROP TABLE a;\n");
  ASSERT_TRUE(ignore.ok()) << ignore.status().ToString();
  EXPECT_TRUE(ignore->empty());
}

}  // namespace
}  // namespace su

namespace su {
namespace {

// `rollback --to` on a phased folder (rollback_phases.h): phases, down files and data losses of
// the migrations it would undo, and whether the upgrade stopped between its phases.
class PhasedRollbackTest : public SqlFolderTest {
 protected:
  void SetUp() override {
    SqlFolderTest::SetUp();
    Add("001_users.up.sql", "CREATE TABLE users (id int, mail text);");
    Add("001_users.down.sql", "DROP TABLE users;");
    Add("002_email.up.sql", "ALTER TABLE users ADD COLUMN email text;");
    Add("002_email.down.sql", "ALTER TABLE users DROP COLUMN email;");
    Add("003_drop.up.sql",
        "-- schema-upgrade: phase=contract\n-- schema-upgrade: lint-ignore drop-column, drop-table\n"
        "ALTER TABLE users DROP COLUMN mail;\nDROP TABLE legacy;\nALTER TABLE users RENAME COLUMN email TO mail2;\n");
  }
  EngineState State(int applied) {
    EngineState s;
    const std::vector<std::pair<std::string, std::string>> all = {{"001", "users"}, {"002", "email"}, {"003", "drop"}};
    for (int i = 0; i < 3; ++i) {
      if (i < applied) {
        s.applied.push_back({all[i].first, all[i].second, "", ""});
      } else {
        PendingMigration p;
        p.version = all[i].first;
        p.name = all[i].second;
        s.pending.push_back(p);
      }
    }
    return s;
  }
};

TEST_F(PhasedRollbackTest, BetweenThePhasesOnlyExpandMigrationsWouldBeUndone) {
  auto r = PlanPhasedRollback(&fs_, "/m", State(2), "001");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->uses_phases);
  ASSERT_EQ(r->victims.size(), 1u);
  EXPECT_EQ(r->victims[0].version, "002");
  EXPECT_EQ(r->pending_contract, std::vector<std::string>{"003_drop"});
  EXPECT_TRUE(r->BetweenExpandAndContract());
  EXPECT_FALSE(r->UndoesContract());
}

TEST_F(PhasedRollbackTest, AfterTheContractItsLossesAreNamedEvenWhenLintIsSilenced) {
  auto r = PlanPhasedRollback(&fs_, "/m", State(3), "0");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->victims.size(), 3u);
  EXPECT_EQ(r->victims[0].version, "003") << "newest first";
  EXPECT_EQ(r->victims[0].phase, MigrationPhase::kContract);
  EXPECT_FALSE(r->victims[0].has_down);
  EXPECT_TRUE(r->victims[1].has_down);
  ASSERT_EQ(r->victims[0].losses.size(), 2u) << "drop column and drop table; a rename loses nothing";
  EXPECT_NE(r->victims[0].losses[0].find("DROP COLUMN mail (line 3): that column's values"), std::string::npos)
      << r->victims[0].losses[0];
  EXPECT_NE(r->victims[0].losses[1].find("DROP TABLE legacy (line 4): that table's rows"), std::string::npos)
      << r->victims[0].losses[1];
  EXPECT_FALSE(r->BetweenExpandAndContract());
  EXPECT_TRUE(r->UndoesContract());
  EXPECT_EQ(r->ContractWithoutDown(), std::vector<std::string>{"003_drop"});
}

TEST_F(PhasedRollbackTest, ABadPhaseDirectiveIsBadInputNamingTheFile) {
  Add("003_drop.up.sql", "-- schema-upgrade: phase=contrct\nSELECT 1;");
  auto r = PlanPhasedRollback(&fs_, "/m", State(3), "0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("003_drop.up.sql"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace su
