// PgRestore keeps the tool's audit trail (reconcilers/database/restore.h) on a real PostgreSQL:
// the rows of schema_upgrade_log written after the backup survive the restore with their ids,
// in order, whether the dump holds the audit table or not, in every schema that has one; the
// restore's own row commits with it; everything else (tables, rows, the history table) is the
// dump's. A restore script cut short (the caller killed while feeding psql) changes nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reconcilers/base/process.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/database/backup.h"
#include "reconcilers/database/restore.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace su::testing {
namespace {

class RestoreAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = PgServer::Shared().CreateDatabase("restore_audit");
    auto db = ConnectPostgres(dsn_, "restore-audit-test");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }

  void Exec(const std::string& sql) {
    Status s = db_->ExecScript(sql);
    ASSERT_TRUE(s.ok()) << sql << ": " << s.ToString();
  }
  // Rows of a query, one column each, joined by ",".
  std::string Rows(const std::string& sql) {
    auto r = db_->Query(sql);
    if (!r.ok()) return "ERROR " + r.status().ToString();
    std::string out;
    for (size_t i = 0; i < r->rows.size(); ++i) out += (i ? "," : "") + r->Get(i, 0, "<null>");
    return out;
  }
  void Record(const std::string& schema, const std::string& direction, const std::string& detail) {
    AuditLog log(db_.get(), schema);
    ASSERT_TRUE(log.Ensure().ok());
    AuditEntry e;
    e.resource = "ns/app";
    e.engine = "controller";
    e.direction = direction;
    e.status = "succeeded";
    e.detail = detail;
    ASSERT_TRUE(log.Record(e).ok());
  }
  // "id:direction:detail" of every row of schema's audit table, by id.
  std::string Trail(const std::string& schema = "public") {
    return Rows("SELECT id || ':' || direction || ':' || detail || ':' || status FROM " + QuoteIdent(schema) +
                ".schema_upgrade_log ORDER BY id");
  }
  std::string Dump() {
    std::string path = dir_.Path("pre.dump");
    auto b = PgDump(PosixProcessRunner(), dsn_, path);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return path;
  }
  // The "failed upgrade": data, a history row and a table after the backup.
  void Upgrade() {
    Exec("INSERT INTO users VALUES (3, 'c');\nINSERT INTO schema_migration VALUES ('002');\n"
         "CREATE TABLE orders (id int REFERENCES users(id));\n");
  }
  static RestoreOptions WithRow(const std::string& detail) {
    RestoreOptions o;
    o.audit_row = AuditEntry{};
    o.audit_row->resource = "ns/app";
    o.audit_row->engine = "controller";
    o.audit_row->direction = "restore";
    o.audit_row->detail = detail;
    return o;
  }

  std::string dsn_;
  std::unique_ptr<Database> db_;
  TempDir dir_;
};

TEST_F(RestoreAuditTest, TheAuditRowsWrittenSinceTheBackupSurviveItInOrderAndTheRestoreRowFollows) {
  Exec("CREATE TABLE users (id int PRIMARY KEY, name text);\nINSERT INTO users VALUES (1, 'a'), (2, 'b');\n"
       "CREATE TABLE schema_migration (version text PRIMARY KEY);\nINSERT INTO schema_migration VALUES ('001');\n");
  Record("public", "bump", "before the backup");
  const std::string path = Dump();
  Record("public", "upgrade-start", "after the backup");
  Record("public", "up", "002 applied");
  Upgrade();
  Record("public", "up", "003 failed");
  // A second audit table, in a schema the dump does not have (the sql engine's migrations.schema).
  Exec("CREATE SCHEMA app;\n");
  Record("app", "upgrade-start", "app's own trail");
  const std::string before = Trail();
  const std::string app_before = Trail("app");
  ASSERT_EQ(Rows("SELECT count(*) FROM schema_upgrade_log"), "4");

  auto r = PgRestore(PosixProcessRunner(), dsn_, path, WithRow(path));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->restored);
  EXPECT_TRUE(r->audit_recorded);

  // The application's tables and the history are the dump's...
  EXPECT_EQ(Rows("SELECT id FROM users ORDER BY id"), "1,2");
  EXPECT_EQ(Rows("SELECT version FROM schema_migration"), "001");
  EXPECT_EQ(Rows("SELECT count(*) FROM pg_tables WHERE tablename = 'orders'"), "0");
  // ...the audit trail is the live one, ids and order kept, and the restore's row after it.
  const std::string after = Trail();
  ASSERT_EQ(after.rfind(before + ",", 0), 0u) << "before: " << before << "\nafter:  " << after;
  const std::string added = after.substr(before.size() + 1);
  EXPECT_NE(added.find(":restore:" + path + ":succeeded"), std::string::npos) << added;
  EXPECT_EQ(added.find(','), std::string::npos) << "one row added: " << added;
  EXPECT_EQ(Trail("app"), app_before) << "the audit table of a schema the dump does not hold";
  // Ids go on above every kept row; the holding schemas are gone.
  Record("public", "on-failure", "next");
  EXPECT_EQ(Rows("SELECT count(*) FROM schema_upgrade_log WHERE id <= (SELECT max(id) FROM schema_upgrade_log "
                 "WHERE direction <> 'on-failure')"),
            "5");
  EXPECT_EQ(Rows("SELECT (SELECT max(id) FROM schema_upgrade_log WHERE direction = 'on-failure') > "
                 "(SELECT max(id) FROM schema_upgrade_log WHERE direction <> 'on-failure')"),
            "t");
  EXPECT_EQ(Rows("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'su\\_restore\\_keep%'"), "0");
}

// The first backup of a database usually precedes the audit table (it is created by the first
// row written after the dump): the live table goes back as it is, owner and index included.
TEST_F(RestoreAuditTest, AnAuditTableTheDumpDoesNotHoldIsKeptAsItIs) {
  Exec("CREATE TABLE users (id int PRIMARY KEY, name text);\nINSERT INTO users VALUES (1, 'a'), (2, 'b');\n"
       "CREATE TABLE schema_migration (version text PRIMARY KEY);\n");
  const std::string path = Dump();
  Record("public", "backup", path);
  Record("public", "upgrade-start", "database at 0");
  Upgrade();
  const std::string before = Trail();

  auto r = PgRestore(PosixProcessRunner(), dsn_, path, WithRow(path));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->restored);
  EXPECT_EQ(Rows("SELECT id FROM users ORDER BY id"), "1,2");
  EXPECT_EQ(Rows("SELECT count(*) FROM schema_migration"), "0");
  const std::string after = Trail();
  EXPECT_EQ(after.rfind(before + ",", 0), 0u) << "before: " << before << "\nafter:  " << after;
  EXPECT_EQ(Rows("SELECT count(*) FROM pg_indexes WHERE indexname = 'schema_upgrade_log_resource_idx'"), "1");
}

// Without audit_row no row is written, and a restore with nothing in the audit table is fine.
TEST_F(RestoreAuditTest, WithoutAnAuditRowNothingIsAddedToTheTrail) {
  Exec("CREATE TABLE users (id int PRIMARY KEY);\n");
  Record("public", "backup", "x");
  const std::string path = Dump();
  Record("public", "up", "after");
  const std::string before = Trail();
  auto r = PgRestore(PosixProcessRunner(), dsn_, path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->restored);
  EXPECT_FALSE(r->audit_recorded);
  EXPECT_EQ(Trail(), before);
}

// After a restore the audit log still holds the up rows of the migrations it undid: what this
// upgrade has applied (runDown's list) starts again after the restore's row.
TEST_F(RestoreAuditTest, WhatAnUpgradeAppliedCountsOnlyWhatCameAfterARestore) {
  AuditLog log(db_.get());
  ASSERT_TRUE(log.Ensure().ok());
  ASSERT_TRUE(log.MarkUpgradeStart("ns/app", "database at 1").ok());
  for (const auto& [dir, v] : {std::pair<std::string, std::string>{"up", "2"}, {"up", "3"}, {"restore", "9"}, {"up", "2"}}) {
    AuditEntry e;
    e.resource = "ns/app";
    e.engine = dir == "up" ? "sql" : "controller";
    e.direction = dir;
    e.version = v;
    e.status = "succeeded";
    ASSERT_TRUE(log.Record(e).ok());
  }
  auto applied = log.UpgradeApplied("ns/app");
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, (std::vector<std::string>{"2"}));
}

// status.undo's anchor (docs/upgrade-paths.md): the id of the resource's last row when a rollback
// begins. The rows after it (the restore's own included) are found by id after the restore too:
// the restore keeps the table and its sequence, so ids only grow.
TEST_F(RestoreAuditTest, RowsAfterARecordedIdAreFoundAcrossARestore) {
  AuditLog log(db_.get());
  auto none = log.LastId("ns/app");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0) << "no table yet";
  auto nothing = log.Since("ns/app", 0);
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_TRUE(nothing->empty());
  Exec("CREATE TABLE users (id int PRIMARY KEY);\n");
  Record("public", "backup", "x");
  const std::string path = Dump();
  Record("public", "up", "after the backup");
  auto from = log.LastId("ns/app");
  ASSERT_TRUE(from.ok()) << from.status().ToString();
  EXPECT_GT(*from, 0);
  Record("public", "rollback", "started");
  AuditEntry other;
  other.resource = "ns/other";
  other.engine = "controller";
  other.direction = "bump";
  other.status = "succeeded";
  ASSERT_TRUE(log.Record(other).ok());
  auto r = PgRestore(PosixProcessRunner(), dsn_, path, WithRow(path));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->audit_recorded);
  Record("public", "on-failure", "done");

  auto rows = log.Since("ns/app", *from);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::string got;
  for (const auto& e : *rows) {
    EXPECT_GT(e.id, *from);
    got += e.direction + ":" + e.status + ":" + e.detail + ";";
  }
  EXPECT_EQ(got, "rollback:succeeded:started;restore:succeeded:" + path + ";on-failure:succeeded:done;")
      << "this resource's rows after the id, oldest first";
  auto last = log.LastId("ns/app");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, rows->back().id);
}

// The caller killed while it fed psql the script: psql reads up to where the input ends. The
// script is one explicit BEGIN ... COMMIT, so a script that ends right after the wipe (every
// user schema dropped) restores nothing and drops nothing; psql's --single-transaction, used
// before, committed whatever had arrived at the end of the input.
TEST_F(RestoreAuditTest, AScriptCutShortChangesNothing) {
  Exec("CREATE TABLE users (id int PRIMARY KEY, name text);\nINSERT INTO users VALUES (1, 'a');\n"
       "CREATE TABLE schema_migration (version text PRIMARY KEY);\n");
  const std::string path = Dump();
  Record("public", "up", "after the backup");
  Upgrade();
  const std::string trail = Trail();
  auto script = RestoreScript(PosixProcessRunner(), dsn_, path, WithRow(path));
  ASSERT_TRUE(script.ok()) << script.status().ToString();
  const std::string mark = "-- schema-upgrade: the replay of the dump\n";
  size_t cut = script->find(mark);
  ASSERT_NE(cut, std::string::npos);
  for (const std::string& part : {script->substr(0, cut), script->substr(0, cut + mark.size() + 200)}) {
    auto r = RunRestoreScript(PosixProcessRunner(), dsn_, part);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(Rows("SELECT id FROM users ORDER BY id"), "1,3") << r->err;
    EXPECT_EQ(Rows("SELECT count(*) FROM pg_tables WHERE tablename = 'orders'"), "1");
    EXPECT_EQ(Trail(), trail);
    EXPECT_EQ(Rows("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'su\\_restore\\_keep%'"), "0");
  }
  // The whole script restores.
  auto r = RunRestoreScript(PosixProcessRunner(), dsn_, *script);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(Rows("SELECT id FROM users ORDER BY id"), "1");
  EXPECT_EQ(Rows("SELECT count(*) FROM schema_upgrade_log WHERE direction = 'restore'"), "1");
}

}  // namespace
}  // namespace su::testing
