// CliFixture (see cli_fixture.h).
#include "tests/integration/cli/cli_fixture.h"

#include <cstdio>

#include "reconcilers/base/process.h"
#include "tests/support/pg_server.h"

namespace su::testing {

std::string Ver(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "20260101%06d", i);
  return buf;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void CliFixture::SetUp() {
  dsn_ = PgServer::Shared().CreateDatabase("cli");
  dbname_ = PgServer::DbNameOf(dsn_);
  auto db = ConnectPostgres(dsn_, "cli-test-observer");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  db_ = std::move(db).value();
}

CliResult CliFixture::Run(const std::vector<std::string>& args, bool with_dsn, const std::string& dsn) {
  std::map<std::string, std::string> env = {{"SU_STATE_DIR", dir_.Path("state")}};
  if (with_dsn) env[kDsnVar] = dsn.empty() ? dsn_ : dsn;
  CliResult r = RunCli(args, env);
  std::string joined;
  for (const auto& a : args) joined += " " + a;
  const std::string& pw = PgServer::Shared().password();
  EXPECT_FALSE(Contains(r.out, pw)) << "password leaked on stdout of schema-upgrade" << joined;
  EXPECT_FALSE(Contains(r.err, pw)) << "password leaked on stderr of schema-upgrade" << joined;
  EXPECT_NE(r.exit_code, -1) << "schema-upgrade" << joined << " did not run or was killed: " << r.err;
  return r;
}

std::string CliFixture::WriteMigration(int i, const std::string& name, const std::string& up, const std::string& down) {
  std::string base = "migrations/" + Ver(i) + "_" + name;
  std::string path = dir_.Write(base + ".up.sql", up);
  if (!down.empty()) dir_.Write(base + ".down.sql", down);
  return path;
}

std::string CliFixture::WriteManifest(const std::vector<std::string>& policy_lines) {
  std::string text =
      "apiVersion: olympus.io/v1alpha1\n"
      "kind: SchemaUpgrade\n"
      "metadata:\n"
      "  name: app\n"
      "  namespace: clitest\n"
      "spec:\n"
      "  targetVersion: \"20260101\"\n"
      "  database:\n"
      "    dsnFrom:\n"
      "      env: " + std::string(kDsnVar) + "\n"
      "  migrations:\n"
      "    engine: sql\n"
      "    path: migrations\n"
      "  policy:\n";
  bool own_wait = false;
  for (const auto& l : policy_lines) own_wait |= l.rfind("    lockWait:", 0) == 0;
  if (!own_wait) text += "    lockWait: 5s\n";
  for (const auto& l : policy_lines) text += l + "\n";
  return dir_.Write("m.yaml", text);
}

std::string CliFixture::SchemaDump() {
  const PgServer& pg = PgServer::Shared();
  ProcessSpec spec;
  // A fixed \restrict key: pg_dump 15.14+ otherwise writes a random one into every dump.
  spec.argv = {PgServer::BinDir() + "/pg_dump", "--schema-only", "--restrict-key=clitest"};
  spec.env = {{"PGHOST", "127.0.0.1"},
              {"PGPORT", std::to_string(pg.port())},
              {"PGUSER", "postgres"},
              {"PGPASSWORD", pg.password()},
              {"PGDATABASE", dbname_}};
  spec.timeout = std::chrono::minutes(2);
  auto r = PosixProcessRunner()->Run(spec);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "<pg_dump did not run>";
  EXPECT_EQ(r->exit_code, 0) << r->err;
  return r->out;
}

std::string CliFixture::Scalar(const std::string& sql) {
  auto r = db_->Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok() || r->rows.empty()) return "<none>";
  return r->Get(0, 0, "<null>");
}

std::vector<std::string> CliFixture::History() {
  std::vector<std::string> out;
  if (!TableExists("schema_migration")) return out;
  auto r = db_->Query("SELECT version FROM schema_migration ORDER BY version");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (r.ok()) {
    for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(r->Get(i, 0));
  }
  return out;
}

}  // namespace su::testing
