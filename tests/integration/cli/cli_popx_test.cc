// Ory popx folders as Ory ships them (tests/fixtures/popx/migrations, see its README): the sql
// engine applies the `.postgres` file of a dialect pair, skips other dialects, runs `.autocommit`
// files outside a transaction, records the version of an empty file, and leaves schema_migration
// exactly as popx's own DDL and inserts would (rows, columns and both indexes).
#include <gtest/gtest.h>

#include "reconcilers/database/database.h"
#include "tests/integration/cli/cli_fixture.h"
#include "tests/support/pg_server.h"

namespace su::testing {
namespace {

const std::vector<std::string> kPopxVersions = {"20150100000001000000", "20150100000002000000",
                                                 "20150100000003000000", "20150100000004000000"};

class CliPopxTest : public CliFixture {
 protected:
  // The manifest's migrations.path points at the fixture folder itself (read-only use).
  void WritePopxManifest() {
    dir_.Write("popx.yaml",
               "apiVersion: olympus.io/v1alpha1\n"
               "kind: SchemaUpgrade\n"
               "metadata: {name: app, namespace: clitest}\n"
               "spec:\n"
               "  targetVersion: v1\n"
               "  database: {dsnFrom: {env: " + std::string(kDsnVar) + "}}\n"
               "  migrations:\n"
               "    engine: sql\n"
               "    path: " + SourceDir() + "/tests/fixtures/popx/migrations\n"
               "  policy: {lockWait: 5s}\n");
  }
  std::string PopxManifest() const { return dir_.Path("popx.yaml"); }

  // Everything popx's schema_migration is made of, as the catalog shows it: columns (name, type,
  // nullability, default) and index definitions, with the schema name normalised.
  static std::string Catalog(Database* db) {
    std::string out;
    auto cols = db->Query(
        "SELECT column_name || ' ' || data_type || coalesce('(' || character_maximum_length || ')', '') || ' ' || "
        "is_nullable || ' ' || coalesce(column_default, '-') FROM information_schema.columns WHERE table_schema = "
        "'public' AND table_name = 'schema_migration' ORDER BY ordinal_position");
    EXPECT_TRUE(cols.ok()) << cols.status().ToString();
    if (cols.ok()) {
      for (size_t i = 0; i < cols->rows.size(); ++i) out += "column " + cols->Get(i, 0) + "\n";
    }
    auto idx = db->Query(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'schema_migration' ORDER BY "
        "indexname");
    EXPECT_TRUE(idx.ok()) << idx.status().ToString();
    if (idx.ok()) {
      for (size_t i = 0; i < idx->rows.size(); ++i) out += "index " + idx->Get(i, 0) + "\n";
    }
    return out;
  }

  static std::string Rows(Database* db) {
    auto r = db->Query("SELECT version || ' ' || version_self FROM schema_migration ORDER BY version");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::string out;
    if (r.ok()) {
      for (size_t i = 0; i < r->rows.size(); ++i) out += r->Get(i, 0) + "\n";
    }
    return out;
  }

  // A database holding what popx itself writes for this folder on PostgreSQL: its DDL for the
  // table (ory/x popx migrator.go, createTransactionalMigrationTable) and one
  // `INSERT INTO schema_migration (version) VALUES (...)` per applied migration.
  std::unique_ptr<Database> PopxReference() {
    auto db = ConnectPostgres(PgServer::Shared().CreateDatabase("popxref"), "popx-reference");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return nullptr;
    Database* d = db->get();
    for (const char* ddl : {"CREATE TABLE schema_migration (version VARCHAR (48) NOT NULL, version_self INT NOT "
                            "NULL DEFAULT 0)",
                            "CREATE UNIQUE INDEX schema_migration_version_idx ON schema_migration (version)",
                            "CREATE INDEX schema_migration_version_self_idx ON schema_migration (version_self)"}) {
      EXPECT_TRUE(d->Exec(ddl).ok()) << ddl;
    }
    for (const auto& v : kPopxVersions) {
      EXPECT_TRUE(d->Exec("INSERT INTO schema_migration (version) VALUES ($1)", {v}).ok());
    }
    return std::move(db).value();
  }
};

TEST_F(CliPopxTest, AppliesAnOryLayoutFolderAndWritesWhatPopxWrites) {
  WritePopxManifest();
  CliResult plan = Run({"plan", "-f", PopxManifest()});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  for (const auto& v : kPopxVersions) EXPECT_TRUE(Contains(plan.out, v)) << v << "\n" << plan.out;

  CliResult r = Run({"apply", "-f", PopxManifest()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "4 migration(s) applied, database at 20150100000004000000")) << r.out;

  // The .postgres file of the pair ran, not the dialect-less one (and no mysql/sqlite/cockroach).
  EXPECT_EQ(Scalar("SELECT data_type FROM information_schema.columns WHERE table_name = 'identities' AND "
                   "column_name = 'traits'"),
            "jsonb");
  // The .autocommit file ran outside a transaction: CREATE INDEX CONCURRENTLY succeeded.
  EXPECT_EQ(Scalar("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('identities_nid_idx')"),
            "t");
  // The empty file recorded its version; its audit row says it ran 0 statements.
  EXPECT_EQ(Scalar("SELECT statements_total || ' ' || status FROM schema_upgrade_log WHERE version = "
                   "'20150100000004000000'"),
            "0 succeeded");

  auto ref = PopxReference();
  ASSERT_TRUE(ref);
  EXPECT_EQ(Rows(db_.get()), Rows(ref.get()));
  EXPECT_EQ(Catalog(db_.get()), Catalog(ref.get()));
  EXPECT_TRUE(Contains(Catalog(db_.get()),
                       "index CREATE INDEX schema_migration_version_self_idx ON public.schema_migration USING btree "
                       "(version_self)"))
      << Catalog(db_.get());

  // Nothing left to do; rolling back runs the chosen down files (the autocommit one outside a
  // transaction) and leaves the history empty.
  CliResult again = Run({"plan", "-f", PopxManifest()});
  EXPECT_EQ(again.exit_code, 0);
  CliResult down = Run({"rollback", "-f", PopxManifest(), "--to", "0"});
  ASSERT_EQ(down.exit_code, 0) << down.out << down.err;
  EXPECT_EQ(Rows(db_.get()), "");
  EXPECT_FALSE(TableExists("identities"));
  EXPECT_FALSE(TableExists("networks"));
}

TEST_F(CliPopxTest, AnExistingHistoryTableWithoutTheVersionSelfIndexGetsIt) {
  // schema_migration as earlier versions of this tool created it: no version_self index.
  ASSERT_TRUE(db_->Exec("CREATE TABLE schema_migration (version VARCHAR(48) NOT NULL, version_self INT NOT NULL "
                        "DEFAULT 0)")
                  .ok());
  ASSERT_TRUE(db_->Exec("CREATE UNIQUE INDEX schema_migration_version_idx ON schema_migration (version)").ok());
  ASSERT_TRUE(db_->Exec("CREATE TABLE schema_upgrade_checksum (version VARCHAR(48) PRIMARY KEY, name text NOT NULL "
                        "DEFAULT '', checksum text NOT NULL DEFAULT '', applied_at timestamptz NOT NULL DEFAULT "
                        "now())")
                  .ok());
  WriteMigration(1, "create_users", "CREATE TABLE users (id int PRIMARY KEY);\n");
  WriteManifest();
  CliResult r = Run({"apply", "-f", Manifest()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'schema_migration_version_self_idx'"),
            "CREATE INDEX schema_migration_version_self_idx ON public.schema_migration USING btree (version_self)");
  EXPECT_EQ(History(), std::vector<std::string>{Ver(1)});
}

}  // namespace
}  // namespace su::testing
