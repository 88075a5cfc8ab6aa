// `schema-upgrade rollback` on an expand/contract folder, the real binary on a real PostgreSQL
// (docs/expand-contract.md "Rolling back by hand"): between the phases it refuses to undo the
// expand migrations (exit 4, the way forward named, nothing changed) unless --expand-too; after
// the contract it runs the contract's down files first and says which data they cannot bring
// back; a contract migration without a down file is undone by the pre-upgrade backup when --to is
// the version the backup was taken at (its rows come back), and refused otherwise.
#include <gtest/gtest.h>

#include "tests/integration/cli/cli_fixture.h"

namespace su::testing {
namespace {

class CliRollbackPhasesTest : public CliFixture {
 protected:
  // 1 users(id, mail) with two rows; 2 (expand) adds email and copies mail into it; 3 (contract)
  // drops mail. The contract file silences lint's drop-column: the loss must be named anyway.
  void WriteFirst() {
    WriteMigration(1, "users", "CREATE TABLE users (id int PRIMARY KEY, mail text);\n"
                               "INSERT INTO users VALUES (1, 'a@example.org'), (2, 'b@example.org');\n",
                   "DROP TABLE users;\n");
  }
  void WriteExpandContract(bool contract_down = true) {
    WriteMigration(2, "add_email", "ALTER TABLE users ADD COLUMN email text;\nUPDATE users SET email = mail;\n",
                   "ALTER TABLE users DROP COLUMN email;\n");
    WriteMigration(3, "drop_mail",
                   "-- schema-upgrade: phase=contract\n"
                   "-- schema-upgrade: lint-ignore drop-column\n"
                   "ALTER TABLE users DROP COLUMN mail;\n",
                   contract_down ? "ALTER TABLE users ADD COLUMN mail text;\n" : "");
  }
  std::string Mails() { return Scalar("SELECT string_agg(coalesce(mail, '<null>'), ',' ORDER BY id) FROM users"); }
};

TEST_F(CliRollbackPhasesTest, BetweenThePhasesTheExpandMigrationsAreKeptUnlessExpandToo) {
  WriteFirst();
  WriteExpandContract();
  WriteManifest({"    contract:", "      after: 24h"});
  CliResult a = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2)})) << a.out << a.err;  // soaking

  const std::string before = SchemaDump();
  CliResult r = Run({"rollback", "-f", Manifest(), "--to", Ver(1)});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "its contract migration(s) " + Ver(3) + "_drop_mail have not run")) << r.err;
  EXPECT_TRUE(Contains(r.err, "(" + Ver(2) + "_add_email) are expand migrations, backward compatible")) << r.err;
  EXPECT_TRUE(Contains(r.err, "spec.policy.allowDowngrade: true")) << r.err;
  EXPECT_TRUE(Contains(r.err, "--expand-too")) << r.err;
  EXPECT_TRUE(Contains(r.err, "nothing was changed")) << r.err;
  EXPECT_EQ(SchemaDump(), before);
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2)}));

  CliResult dry = Run({"rollback", "-f", Manifest(), "--to", Ver(1), "--dry-run", "--expand-too"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out, "clitest/app: would roll back 1 migration(s), newest first:\n"
                     "  - " + Ver(2) + " add_email (expand)\n");

  CliResult forced = Run({"rollback", "-f", Manifest(), "--to", Ver(1), "--expand-too"});
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Mails(), "a@example.org,b@example.org");
}

TEST_F(CliRollbackPhasesTest, AfterTheContractItsDownFilesRunFirstAndTheLostDataIsNamed) {
  WriteFirst();
  WriteExpandContract();
  WriteManifest();
  CliResult a = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)})) << a.out << a.err;

  CliResult dry = Run({"rollback", "-f", Manifest(), "--to", Ver(1), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "clitest/app: data lost: contract migrations removed data that their down files cannot bring back (a "
            "down file recreates the shape, empty):\n"
            "  - " + Ver(3) + "_drop_mail: ALTER TABLE users DROP COLUMN mail (line 3): that column's values\n"
            "clitest/app: would roll back 2 migration(s), newest first:\n"
            "  - " + Ver(3) + " drop_mail (contract)\n"
            "  - " + Ver(2) + " add_email (expand)\n");

  CliResult r = Run({"rollback", "-f", Manifest(), "--to", Ver(1)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "that column's values\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "rolled back 2 migration(s); database at " + Ver(1))) << r.out;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Mails(), "<null>,<null>") << "the column is back, its values are not: as the output said";
}

TEST_F(CliRollbackPhasesTest, AContractWithoutADownFileIsUndoneByThePreUpgradeBackup) {
  WriteFirst();
  WriteManifest();
  ASSERT_EQ(Run({"apply", "-f", Manifest(), "-q"}).exit_code, 0);
  WriteExpandContract(/*contract_down=*/false);
  WriteManifest({"    backup:", "      enabled: true"});  // a new spec: a new upgrade from Ver(1)
  CliResult a = Run({"apply", "-f", Manifest(), "-q"});
  ASSERT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)})) << a.out << a.err;

  // --to 0: the backup holds Ver(1), not an empty database: refused, nothing changed.
  const std::string before = SchemaDump();
  CliResult wrong = Run({"rollback", "-f", Manifest(), "--to", "0"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out << wrong.err;
  EXPECT_TRUE(Contains(wrong.err, Ver(3) + "_drop_mail have no .down.sql file")) << wrong.err;
  EXPECT_TRUE(Contains(wrong.err, "was taken at " + Ver(1) + ", not at --to 0")) << wrong.err;
  EXPECT_EQ(SchemaDump(), before);

  CliResult dry = Run({"rollback", "-f", Manifest(), "--to", Ver(1), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(Contains(dry.out, "restoring the pre-upgrade backup ")) << dry.out;
  EXPECT_TRUE(Contains(dry.out, "would restore ")) << dry.out;
  EXPECT_EQ(SchemaDump(), before);

  CliResult r = Run({"rollback", "-f", Manifest(), "--to", Ver(1)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "clitest/app: restored ")) << r.out;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1)}));
  EXPECT_EQ(Mails(), "a@example.org,b@example.org") << "the backup brings the dropped values back";
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                   "column_name = 'email'"),
            "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_upgrade_log WHERE direction = 'restore'"), "1");
}

}  // namespace
}  // namespace su::testing
