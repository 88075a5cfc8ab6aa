// Unit tests for lint.h: one positive and one negative case per rule, the ignore mechanisms,
// line numbers and the rule catalogue.
#include "reconcilers/sqltext/lint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace su {
namespace {

std::vector<LintFinding> Lint(const std::string& sql, LintOptions options = {}) {
  auto r = LintSql("0001_test.sql", sql, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : std::vector<LintFinding>{};
}

LintOptions NoTx() {
  LintOptions o;
  o.in_transaction = false;
  return o;
}

int Count(const std::vector<LintFinding>& f, const std::string& rule) {
  return static_cast<int>(std::count_if(f.begin(), f.end(), [&](const LintFinding& x) { return x.rule == rule; }));
}

const LintFinding* Find(const std::vector<LintFinding>& f, const std::string& rule) {
  for (const auto& x : f) {
    if (x.rule == rule) return &x;
  }
  return nullptr;
}

std::string Ids(const std::vector<LintFinding>& f) {
  std::string s;
  for (const auto& x : f) s += x.rule + "@" + std::to_string(x.line) + " ";
  return s;
}

// --- create-index-without-concurrently ---
TEST(Lint, CreateIndexWithoutConcurrentlyOnExistingTable) {
  auto f = Lint("create unique index users_email on public.users (email);");
  ASSERT_EQ(Count(f, "create-index-without-concurrently"), 1) << Ids(f);
  const LintFinding* x = Find(f, "create-index-without-concurrently");
  EXPECT_EQ(x->severity, LintSeverity::kWarning);
  EXPECT_EQ(x->file, "0001_test.sql");
  EXPECT_EQ(x->line, 1);
  EXPECT_NE(x->message.find("\"users\""), std::string::npos);
  EXPECT_NE(x->suggestion.find("CONCURRENTLY"), std::string::npos);
  EXPECT_EQ(x->statement, "create unique index users_email on public.users (email)");
}

TEST(Lint, CreateIndexOnTableCreatedInSameFileOrConcurrentlyIsFine) {
  auto f = Lint("CREATE TABLE \"Users\" (id int);\nCREATE INDEX ON \"Users\" (id);\n");
  EXPECT_EQ(Count(f, "create-index-without-concurrently"), 0) << Ids(f);
  f = Lint("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (email);", NoTx());
  EXPECT_EQ(Count(f, "create-index-without-concurrently"), 0) << Ids(f);
  // Quoted "Users" and unquoted users are different tables in PostgreSQL.
  f = Lint("CREATE TABLE \"Users\" (id int);\nCREATE INDEX i ON users (id);\n");
  EXPECT_EQ(Count(f, "create-index-without-concurrently"), 1) << Ids(f);
}

// --- concurrently-in-transaction ---
TEST(Lint, ConcurrentlyInTransactionIsAnError) {
  auto f = Lint(
      "CREATE INDEX CONCURRENTLY i ON users (email);\n"
      "DROP INDEX CONCURRENTLY old_i;\n"
      "REINDEX (VERBOSE) INDEX CONCURRENTLY i2;\n"
      "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;\n");
  EXPECT_EQ(Count(f, "concurrently-in-transaction"), 4) << Ids(f);
  for (const auto& x : f) {
    if (x.rule == "concurrently-in-transaction") {
      EXPECT_EQ(x.severity, LintSeverity::kError);
    }
  }
}

TEST(Lint, ConcurrentlyOutsideTransactionIsFine) {
  auto f = Lint("SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON users (email);\nDROP INDEX CONCURRENTLY j;\n"
                "REINDEX INDEX CONCURRENTLY k;",
                NoTx());
  EXPECT_TRUE(f.empty()) << Ids(f);
}

// --- no-transaction-statement-in-transaction ---
TEST(Lint, VacuumAndDatabaseStatementsInTransactionAreErrors) {
  auto f = Lint("VACUUM ANALYZE users;\nCREATE DATABASE x;\nALTER SYSTEM SET work_mem = '64MB';\n");
  EXPECT_EQ(Count(f, "no-transaction-statement-in-transaction"), 3) << Ids(f);
  f = Lint("VACUUM ANALYZE users;\n", NoTx());
  EXPECT_EQ(Count(f, "no-transaction-statement-in-transaction"), 0) << Ids(f);
}

// --- add-column-volatile-default ---
TEST(Lint, AddColumnWithVolatileDefaultRewritesTable) {
  auto f = Lint(
      "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
      "ALTER TABLE users ADD seen timestamptz NOT NULL DEFAULT clock_timestamp(), ADD COLUMN n bigserial;\n"
      "ALTER TABLE users ADD COLUMN IF NOT EXISTS r float8 DEFAULT (random() * 10);\n"
      "ALTER TABLE users ADD COLUMN s int DEFAULT nextval('seq');\n"
      "ALTER TABLE users ADD COLUMN g int GENERATED ALWAYS AS IDENTITY;\n"
      "ALTER TABLE users ADD COLUMN h int GENERATED ALWAYS AS (id * 2) STORED;\n");
  EXPECT_EQ(Count(f, "add-column-volatile-default"), 7) << Ids(f);
  const LintFinding* x = Find(f, "add-column-volatile-default");
  EXPECT_NE(x->message.find("\"token\""), std::string::npos);
}

TEST(Lint, AddColumnWithConstantOrStableDefaultIsFine) {
  // Since PostgreSQL 11 a non-volatile default (now() is STABLE) is stored once, not per row.
  auto f = Lint(
      "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;\n"
      "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();\n"
      "ALTER TABLE users ADD COLUMN note text DEFAULT 'random()';\n"
      "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();\n");
  EXPECT_EQ(Count(f, "add-column-volatile-default"), 0) << Ids(f);
}

// --- set-not-null ---
TEST(Lint, SetNotNullWithoutValidatedCheck) {
  auto f = Lint("SET lock_timeout = '1s';\nALTER TABLE users\n  ALTER COLUMN email SET NOT NULL;\n");
  ASSERT_EQ(Count(f, "set-not-null"), 1) << Ids(f);
  EXPECT_EQ(Find(f, "set-not-null")->line, 3);
  // A NOT VALID check that was never validated does not help.
  f = Lint(
      "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n"
      "ALTER TABLE users ALTER email SET NOT NULL;\n");
  EXPECT_EQ(Count(f, "set-not-null"), 1) << Ids(f);
}

TEST(Lint, SetNotNullAfterValidatedCheckIsFine) {
  auto f = Lint(
      "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n"
      "ALTER TABLE users VALIDATE CONSTRAINT email_nn;\n"
      "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
      "ALTER TABLE users ADD CHECK (\"Name\" IS NOT NULL) NOT VALID;\n"
      "ALTER TABLE users VALIDATE CONSTRAINT \"users_Name_check\";\n"
      "ALTER TABLE users ALTER COLUMN \"Name\" SET NOT NULL;\n");
  EXPECT_EQ(Count(f, "set-not-null"), 0) << Ids(f);
  f = Lint("CREATE TABLE t (c int);\nALTER TABLE t ALTER COLUMN c SET NOT NULL;\n");
  EXPECT_EQ(Count(f, "set-not-null"), 0) << Ids(f);
}

// --- alter-column-type ---
TEST(Lint, AlterColumnType) {
  auto f = Lint("ALTER TABLE users ALTER COLUMN id TYPE bigint, ALTER COLUMN name SET DATA TYPE text;");
  EXPECT_EQ(Count(f, "alter-column-type"), 2) << Ids(f);
}

TEST(Lint, AlterColumnOtherChangesAreNotTypeChanges) {
  auto f = Lint("ALTER TABLE users ALTER COLUMN id SET DEFAULT 0, ALTER COLUMN id DROP NOT NULL;\n"
                "CREATE TABLE t (c int);\nALTER TABLE t ALTER c TYPE bigint;\n");
  EXPECT_EQ(Count(f, "alter-column-type"), 0) << Ids(f);
}

// --- add-constraint-not-valid ---
TEST(Lint, AddForeignKeyOrCheckWithoutNotValid) {
  auto f = Lint(
      "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);\n"
      "ALTER TABLE orders ADD CHECK (total >= 0);\n"
      "ALTER TABLE orders ADD COLUMN shop_id int REFERENCES shops (id);\n");
  EXPECT_EQ(Count(f, "add-constraint-not-valid"), 3) << Ids(f);
}

TEST(Lint, AddConstraintNotValidIsFine) {
  auto f = Lint(
      "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n"
      "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;\n"
      "ALTER TABLE orders ADD CONSTRAINT pos CHECK (total >= 0) not   valid;\n");
  EXPECT_EQ(Count(f, "add-constraint-not-valid"), 0) << Ids(f);
}

// --- add-unique-constraint ---
TEST(Lint, AddUniqueOrPrimaryKeyBuildsIndexInPlace) {
  auto f = Lint("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);\n"
                "ALTER TABLE accounts ADD PRIMARY KEY (id);\n");
  EXPECT_EQ(Count(f, "add-unique-constraint"), 2) << Ids(f);
}

TEST(Lint, AddUniqueUsingIndexIsFine) {
  auto f = Lint("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;\n"
                "ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_id_idx;\n");
  EXPECT_EQ(Count(f, "add-unique-constraint"), 0) << Ids(f);
}

// --- drop-column / drop-table ---
TEST(Lint, DropColumnAndDropTable) {
  auto f = Lint("ALTER TABLE users DROP COLUMN IF EXISTS legacy, DROP old_flag;\nDROP TABLE IF EXISTS a, b CASCADE;\n");
  EXPECT_EQ(Count(f, "drop-column"), 2) << Ids(f);
  EXPECT_EQ(Count(f, "drop-table"), 2) << Ids(f);
}

TEST(Lint, DropConstraintOrTableCreatedInFileIsFine) {
  auto f = Lint("ALTER TABLE users DROP CONSTRAINT users_email_key;\n"
                "CREATE TEMP TABLE scratch (id int);\nALTER TABLE scratch DROP COLUMN id;\nDROP TABLE scratch;\n");
  EXPECT_EQ(Count(f, "drop-column"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "drop-table"), 0) << Ids(f);
}

// --- rename-column / rename-table ---
TEST(Lint, RenameColumnAndRenameTable) {
  auto f = Lint("ALTER TABLE users RENAME COLUMN name TO full_name;\nALTER TABLE users RENAME email TO mail;\n"
                "ALTER TABLE IF EXISTS ONLY users RENAME TO people;\n");
  EXPECT_EQ(Count(f, "rename-column"), 2) << Ids(f);
  EXPECT_EQ(Count(f, "rename-table"), 1) << Ids(f);
  EXPECT_NE(Find(f, "rename-table")->message.find("\"people\""), std::string::npos);
}

TEST(Lint, RenameConstraintIsFine) {
  auto f = Lint("ALTER TABLE users RENAME CONSTRAINT a TO b;\n");
  EXPECT_EQ(Count(f, "rename-column"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "rename-table"), 0) << Ids(f);
}

// --- missing-lock-timeout ---
TEST(Lint, MissingLockTimeoutReportedOnceAtFirstDdl) {
  auto f = Lint("CREATE TABLE t (id int);\n\nALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int;\n");
  ASSERT_EQ(Count(f, "missing-lock-timeout"), 1) << Ids(f);
  const LintFinding* x = Find(f, "missing-lock-timeout");
  EXPECT_EQ(x->line, 3);
  EXPECT_EQ(x->severity, LintSeverity::kWarning);
  EXPECT_NE(x->message.find("schema-upgrade sets lock_timeout"), std::string::npos);
}

TEST(Lint, LockTimeoutSetOrOnlyNewTablesIsFine) {
  EXPECT_EQ(Count(Lint("SET LOCAL lock_timeout TO '3s';\nALTER TABLE users ADD COLUMN a int;\n"), "missing-lock-timeout"), 0);
  EXPECT_EQ(Count(Lint("SELECT set_config('lock_timeout', '3s', true);\nALTER TABLE users ADD COLUMN a int;\n"),
                  "missing-lock-timeout"),
            0);
  EXPECT_EQ(Count(Lint("CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN a int;\nINSERT INTO t VALUES (1);\n"),
                  "missing-lock-timeout"),
            0);
  // Setting it to 0 disables it again.
  EXPECT_EQ(Count(Lint("SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN a int;\n"), "missing-lock-timeout"), 1);
}

TEST(Lint, NoMissingLockTimeoutWhenTheRunnerSetsIt) {
  LintOptions o;
  o.runner_sets_lock_timeout = true;  // the engines SET lock_timeout from policy.lockTimeout
  auto f = LintSql("f.sql", "ALTER TABLE users ADD COLUMN a int;\n", o);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Count(*f, "missing-lock-timeout"), 0) << Ids(*f);
}

// --- vacuum-full / cluster / lock-table ---
TEST(Lint, HeavyLockStatements) {
  auto f = Lint("VACUUM FULL users;\nVACUUM (FULL, ANALYZE) orders;\nCLUSTER users USING users_pkey;\n"
                "LOCK TABLE users IN ACCESS EXCLUSIVE MODE;\n",
                NoTx());
  EXPECT_EQ(Count(f, "vacuum-full"), 2) << Ids(f);
  EXPECT_EQ(Count(f, "cluster"), 1) << Ids(f);
  EXPECT_EQ(Count(f, "lock-table"), 1) << Ids(f);
}

TEST(Lint, PlainVacuumAndLockOnNewTableAreFine) {
  auto f = Lint("VACUUM (FULL false, ANALYZE) users;\nVACUUM users;\nCREATE TABLE t (id int);\nLOCK t;\n", NoTx());
  EXPECT_EQ(Count(f, "vacuum-full"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "cluster"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "lock-table"), 0) << Ids(f);
}

// --- truncate / delete-without-where / update-without-where ---
TEST(Lint, TruncateDeleteUpdateWithoutWhere) {
  auto f = Lint(
      "TRUNCATE TABLE sessions;\n"
      "DELETE FROM sessions;\n"
      "UPDATE users SET flag = (SELECT 1 FROM x WHERE x.id = 1);\n"
      "WITH old AS (SELECT id FROM s WHERE s.t < now()) DELETE FROM sessions USING old;\n");
  EXPECT_EQ(Count(f, "truncate"), 1) << Ids(f);
  EXPECT_EQ(Count(f, "delete-without-where"), 2) << Ids(f);
  EXPECT_EQ(Count(f, "update-without-where"), 1) << Ids(f);
  EXPECT_EQ(Find(f, "update-without-where")->line, 3);
}

TEST(Lint, DmlWithWhereOrOnNewTablesIsFine) {
  auto f = Lint(
      "DELETE FROM sessions WHERE expires_at < now();\n"
      "UPDATE users SET flag = true WHERE id IN (SELECT id FROM x);\n"
      "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = 2;\n"
      "WITH x AS (DELETE FROM a RETURNING *) SELECT * FROM x;\n"
      "CREATE TABLE n (id int);\nUPDATE n SET id = 1;\nDELETE FROM n;\nTRUNCATE n;\n"
      "SELECT 'DELETE FROM users';\n");
  EXPECT_EQ(Count(f, "truncate"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "delete-without-where"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "update-without-where"), 0) << Ids(f);
}

// --- mechanics ---
TEST(Lint, KeywordsInStringsAndCommentsAreIgnored) {
  auto f = Lint(
      "-- DROP TABLE users;\n/* ALTER TABLE users RENAME TO x; */\n"
      "INSERT INTO audit (q) VALUES ('DROP TABLE users'), ($$ALTER TABLE users DROP COLUMN a$$);\n");
  EXPECT_TRUE(f.empty()) << Ids(f);
}

TEST(Lint, CaseAndWhitespaceInsensitive) {
  auto f = Lint("  alter\ttable\n users\n   rename\n   column a to b ;\n");
  ASSERT_EQ(Count(f, "rename-column"), 1) << Ids(f);
  EXPECT_EQ(Find(f, "rename-column")->line, 3);  // the line where the RENAME action starts
}

TEST(Lint, LineNumbersFollowStatementsAndActions) {
  auto f = Lint(
      "SET lock_timeout = '1s';\n"
      "-- comment\n"
      "\n"
      "ALTER TABLE users\n"
      "  DROP COLUMN a,\n"
      "  RENAME TO b;\n"
      "DROP TABLE c;\n");
  ASSERT_EQ(f.size(), 3u) << Ids(f);
  EXPECT_EQ(f[0].rule, "drop-column");
  EXPECT_EQ(f[0].line, 5);
  EXPECT_EQ(f[0].statement, "ALTER TABLE users");
  EXPECT_EQ(f[1].rule, "rename-table");
  EXPECT_EQ(f[1].line, 6);
  EXPECT_EQ(f[2].rule, "drop-table");
  EXPECT_EQ(f[2].line, 7);
  EXPECT_EQ(f[2].statement, "DROP TABLE c");
}

TEST(Lint, LintIgnoreCommentDisablesRulesForTheWholeFile) {
  std::string sql =
      "DROP TABLE a;\n"
      "ALTER TABLE b RENAME COLUMN x TO y;\n"
      "-- schema-upgrade: lint-ignore drop-table, missing-lock-timeout\n"
      "DROP TABLE c;\n";
  auto f = Lint(sql);
  EXPECT_EQ(Count(f, "drop-table"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "missing-lock-timeout"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "rename-column"), 1) << Ids(f);
  f = Lint("--Schema-Upgrade:Lint-Ignore rename-column,drop-table\nDROP TABLE a;\nALTER TABLE b RENAME x TO y;\n");
  EXPECT_EQ(Count(f, "drop-table"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "rename-column"), 0) << Ids(f);
  f = Lint("-- schema-upgrade: lint-ignore   drop-table\r\nSET lock_timeout = '1s';\r\nDROP TABLE a;\r\n");
  EXPECT_TRUE(f.empty()) << Ids(f);
  // The marker inside a string is not a comment.
  f = Lint("SELECT '-- schema-upgrade: lint-ignore drop-table';\nDROP TABLE a;\n");
  EXPECT_EQ(Count(f, "drop-table"), 1) << Ids(f);
}

TEST(Lint, DisabledRulesOptionSkipsRules) {
  LintOptions o;
  o.disabled_rules = {"drop-table", "missing-lock-timeout"};
  auto f = Lint("DROP TABLE a;\nTRUNCATE b;\n", o);
  EXPECT_EQ(Count(f, "drop-table"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "missing-lock-timeout"), 0) << Ids(f);
  EXPECT_EQ(Count(f, "truncate"), 1) << Ids(f);
}

TEST(Lint, SafeMigrationHasNoFindings) {
  auto f = Lint(
      "CREATE TABLE IF NOT EXISTS \"accounts\" (\"id\" serial PRIMARY KEY, \"name\" text NOT NULL);\n"
      "--> statement-breakpoint\n"
      "CREATE INDEX IF NOT EXISTS \"accounts_name_idx\" ON \"accounts\" USING btree (\"name\");\n"
      "CREATE FUNCTION touch() RETURNS trigger AS $$ BEGIN DELETE FROM x; RETURN NEW; END $$ LANGUAGE plpgsql;\n");
  EXPECT_TRUE(f.empty()) << Ids(f);
}

TEST(Lint, SplitErrorIsReturned) {
  auto r = LintSql("bad.sql", "SELECT 1;\nSELECT 'unterminated;\n", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos);
}

TEST(Lint, ArbitraryInputNeverCrashesAndLinesStayInRange) {
  // Deterministic pseudo-random soup of the characters the lexer cares about.
  const std::string alphabet = "aEe$1 ;'\"\\-/*()\n,.ALTER TABLE DROP ADD COLUMN ";
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string sql;
    int len = 1 + round % 60;
    for (int i = 0; i < len; ++i) {
      seed = seed * 1103515245u + 12345u;
      sql.push_back(alphabet[(seed >> 16) % alphabet.size()]);
    }
    int lines = 1 + static_cast<int>(std::count(sql.begin(), sql.end(), '\n'));
    auto r = LintSql("f.sql", sql, {});
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << sql;
      continue;
    }
    for (const auto& x : r.value()) {
      EXPECT_GE(x.line, 1) << sql;
      EXPECT_LE(x.line, lines) << sql;
    }
  }
}

TEST(LintRules, ListsEveryRuleOnceWithDescription) {
  auto rules = LintRules();
  std::set<std::string> ids;
  for (const auto& [id, desc] : rules) {
    EXPECT_TRUE(ids.insert(id).second) << id;
    EXPECT_FALSE(desc.empty()) << id;
  }
  for (const char* id : {"create-index-without-concurrently", "concurrently-in-transaction",
                         "no-transaction-statement-in-transaction", "add-column-volatile-default", "set-not-null",
                         "alter-column-type", "add-constraint-not-valid", "add-unique-constraint", "drop-column",
                         "drop-table", "rename-column", "rename-table", "missing-lock-timeout", "vacuum-full", "cluster",
                         "lock-table", "truncate", "delete-without-where", "update-without-where"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
  EXPECT_EQ(ids.size(), 19u);
  EXPECT_STREQ(LintSeverityName(LintSeverity::kWarning), "warning");
  EXPECT_STREQ(LintSeverityName(LintSeverity::kError), "error");
}

}  // namespace
}  // namespace su

namespace su {
namespace {

TEST(LintPairingTest, DestructiveFindingsOfExpandStepsBecomeErrorsWithTheFix) {
  auto f = LintSql("002_expand.up.sql",
                   "ALTER TABLE users DROP COLUMN nick;\nALTER TABLE users RENAME COLUMN a TO b;\n"
                   "ALTER TABLE users ALTER COLUMN mail SET NOT NULL;\nCREATE INDEX i ON users (mail);\n",
                   LintOptions{});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::vector<LintFinding> paired = *f;
  PairExpandFindings(&paired);
  ASSERT_EQ(paired.size(), f->size());
  int errors = 0;
  for (size_t i = 0; i < paired.size(); ++i) {
    if (IsDestructiveRule(paired[i].rule)) {
      ++errors;
      EXPECT_EQ(paired[i].severity, LintSeverity::kError) << paired[i].rule;
      EXPECT_NE(paired[i].suggestion.find("move it to a contract step"), std::string::npos);
      EXPECT_NE(paired[i].message.find("in an expand step"), std::string::npos);
      EXPECT_EQ((*f)[i].severity, LintSeverity::kWarning) << "unpaired: today's warning";
    } else {
      EXPECT_EQ(paired[i].severity, (*f)[i].severity) << paired[i].rule << " is not destructive: unchanged";
      EXPECT_EQ(paired[i].suggestion, (*f)[i].suggestion);
    }
  }
  EXPECT_EQ(errors, 3) << "drop-column, rename-column, set-not-null";
  EXPECT_TRUE(IsDestructiveRule("drop-table"));
  EXPECT_TRUE(IsDestructiveRule("rename-table"));
  EXPECT_FALSE(IsDestructiveRule("create-index-without-concurrently"));
}

}  // namespace
}  // namespace su
