// CliFixture: one fresh database, one temp folder (manifest, migrations, state dir) and helpers
// to run the real `schema-upgrade` binary against them. Every run goes through Run(), which
// fails the test if the server's password appears in stdout or stderr: the secret-leak check
// covers every CLI output of these tests, not a chosen few.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reconcilers/database/database.h"
#include "tests/support/cli_runner.h"
#include "tests/support/temp_dir.h"

namespace su::testing {

// The variable the manifests name in dsnFrom.env.
inline constexpr const char* kDsnVar = "SU_CLI_TEST_DSN";
// metadata.namespace/name of the fixture's manifest.
inline constexpr const char* kKey = "clitest/app";

// Zero-padded migration version i of the fixture (20260101000001, ...).
std::string Ver(int i);

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  // Runs schema-upgrade with the DSN variable and SU_STATE_DIR set (with_dsn false: no DSN;
  // dsn non-empty: that DSN instead of the fixture database's).
  CliResult Run(const std::vector<std::string>& args, bool with_dsn = true, const std::string& dsn = "");
  // Writes migrations/<Ver(i)>_<name>.up.sql (and .down.sql when down is not empty).
  std::string WriteMigration(int i, const std::string& name, const std::string& up, const std::string& down = "");
  // Writes m.yaml: engine sql on migrations/, the given lines appended under spec.policy
  // (indented by the caller, e.g. "    lockWait: 1s"; lockWait defaults to 5s when not given).
  std::string WriteManifest(const std::vector<std::string>& policy_lines = {});
  std::string Manifest() const { return dir_.Path("m.yaml"); }

  // pg_dump --schema-only of the fixture's database (connection through PG* env, never argv).
  std::string SchemaDump();
  // First column of the first row, "<none>" when no row, "<null>" for NULL.
  std::string Scalar(const std::string& sql);
  bool TableExists(const std::string& name) { return Scalar("SELECT to_regclass('" + name + "') IS NOT NULL") == "t"; }
  // Versions in schema_migration, ascending (empty when the table does not exist).
  std::vector<std::string> History();

  std::string dsn_;
  std::string dbname_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
};

// Exact-match helpers for readable failures.
bool Contains(const std::string& haystack, const std::string& needle);

}  // namespace su::testing
