// Unit tests for the sql engine's per-file preparation: statement lines, the no-transaction
// marker, CONCURRENTLY index names, and refusing transaction control inside a transactional file.
#include "reconcilers/engines/sql/sql_prepare.h"

#include <gtest/gtest.h>

#include "reconcilers/base/sha256.h"

namespace su {
namespace {

TEST(ConcurrentIndexNameTest, FindsNamedConcurrentIndexBuilds) {
  EXPECT_EQ(ConcurrentIndexName("CREATE INDEX CONCURRENTLY users_email_idx ON users (email)"), "users_email_idx");
  EXPECT_EQ(ConcurrentIndexName("create unique index concurrently if not exists u_idx on u(email)"), "u_idx");
  EXPECT_EQ(ConcurrentIndexName("CREATE INDEX CONCURRENTLY \"My Idx\" ON t(x)"), "\"My Idx\"");
  EXPECT_EQ(ConcurrentIndexName("CREATE INDEX CONCURRENTLY app.t_idx ON app.t(x)"), "app.t_idx");
  EXPECT_EQ(ConcurrentIndexName("CREATE INDEX CONCURRENTLY \"s\".\"a b\" ON t(x)"), "\"s\".\"a b\"");
  EXPECT_EQ(ConcurrentIndexName("CREATE /* why */ INDEX\n  CONCURRENTLY t_idx\n  ON t(x)"), "t_idx");
}

TEST(ConcurrentIndexNameTest, IgnoresOtherStatements) {
  EXPECT_EQ(ConcurrentIndexName("CREATE INDEX t_idx ON t(x)"), "");
  EXPECT_EQ(ConcurrentIndexName("CREATE INDEX CONCURRENTLY ON t(x)"), "");
  EXPECT_EQ(ConcurrentIndexName("DROP INDEX CONCURRENTLY t_idx"), "");
  EXPECT_EQ(ConcurrentIndexName("REINDEX INDEX CONCURRENTLY t_idx"), "");
  EXPECT_EQ(ConcurrentIndexName("CREATE TABLE concurrently(x int)"), "");
}

TEST(PrepareMigrationTest, SplitsStatementsWithLinesAndChecksum) {
  std::string sql = "-- add users\nCREATE TABLE users(id int);\n\nINSERT INTO users VALUES (1);\n";
  auto m = PrepareMigration("7", "users", "/m/7_users.up.sql", sql);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->version, "7");
  EXPECT_EQ(m->checksum, Sha256Hex(sql));
  EXPECT_FALSE(m->no_transaction);
  ASSERT_EQ(m->statements.size(), 2u);
  EXPECT_EQ(m->statements[0].line, 2);
  EXPECT_EQ(m->statements[1].line, 4);
  EXPECT_TRUE(m->concurrent_indexes.empty());
}

TEST(PrepareMigrationTest, NoTransactionFileCollectsConcurrentIndexes) {
  std::string sql =
      "-- schema-upgrade: no-transaction\nCREATE INDEX CONCURRENTLY a_idx ON a(x);\nCREATE UNIQUE INDEX "
      "CONCURRENTLY IF NOT EXISTS b_idx ON b(y);\n";
  auto m = PrepareMigration("8", "idx", "/m/8_idx.up.sql", sql);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->no_transaction);
  EXPECT_EQ(m->concurrent_indexes, (std::vector<std::string>{"a_idx", "b_idx"}));
}

TEST(PrepareMigrationTest, RejectsTransactionControlNamingFileAndLine) {
  for (const std::string stmt : {"BEGIN", "COMMIT", "END", "ROLLBACK", "start transaction", "ABORT"}) {
    auto m = PrepareMigration("9", "tx", "/m/9_tx.up.sql", "CREATE TABLE a(id int);\n" + stmt + ";\n");
    ASSERT_FALSE(m.ok()) << stmt;
    EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
    EXPECT_NE(m.status().message().find("/m/9_tx.up.sql:2"), std::string::npos) << m.status().message();
  }
  // Savepoints are fine, and a no-transaction file may manage its own transactions.
  EXPECT_TRUE(PrepareMigration("9", "tx", "f", "SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;").ok());
  EXPECT_TRUE(PrepareMigration("9", "tx", "f", "-- schema-upgrade: no-transaction\nBEGIN;\nSELECT 1;\nCOMMIT;").ok());
  // A function body containing BEGIN/END is one statement, not transaction control.
  EXPECT_TRUE(PrepareMigration("9", "fn", "f",
                               "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;")
                  .ok());
}

TEST(PrepareMigrationTest, SplitErrorsNameTheFile) {
  auto m = PrepareMigration("9", "bad", "/m/9_bad.up.sql", "SELECT 'unterminated;\n");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
  EXPECT_NE(m.status().message().find("/m/9_bad.up.sql"), std::string::npos) << m.status().message();
}

}  // namespace
}  // namespace su
