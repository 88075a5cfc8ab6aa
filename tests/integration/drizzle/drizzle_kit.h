// The real drizzle-kit for the drizzle tests (pinned in tests/fixtures/node/package.json): installs
// it when missing (tests/fixtures/node/install.sh), runs `drizzle-kit migrate` of a folder (the
// DSN through the environment, never argv) and reads drizzle.__drizzle_migrations back.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "reconcilers/base/process.h"
#include "reconcilers/database/database.h"
#include "tests/support/pg_server.h"

namespace su::testing {

inline std::string DrizzleSourceDir() {
  const char* s = std::getenv("SU_SOURCE_DIR");
  return s ? s : ".";
}
inline std::string DrizzleNodeDir() { return DrizzleSourceDir() + "/tests/fixtures/node"; }

// npm ci of the pinned drizzle-kit unless it is there (call from SetUpTestSuite).
inline void InstallDrizzleKitIfMissing() {
  if (std::filesystem::exists(DrizzleNodeDir() + "/node_modules/.bin/drizzle-kit")) return;
  ProcessSpec spec;
  spec.argv = {"bash", DrizzleNodeDir() + "/install.sh"};
  spec.timeout = std::chrono::minutes(5);
  auto r = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->Succeeded()) << "tests/fixtures/node/install.sh (npm ci) failed:\n" << r->Tail(40);
}

// `drizzle-kit migrate` of folder into the database of dsn; a failure fails the test.
inline void KitMigrate(const std::string& dsn, const std::string& folder) {
  ProcessSpec spec;
  spec.argv = {DrizzleNodeDir() + "/node_modules/.bin/drizzle-kit", "migrate", "--config", "drizzle.config.ts"};
  spec.cwd = DrizzleNodeDir();
  spec.env = {{"DATABASE_URL", dsn}, {"DRIZZLE_OUT", folder}};
  spec.timeout = std::chrono::minutes(2);
  auto r = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->Succeeded()) << "drizzle-kit migrate failed:\n" << r->Tail(40);
  EXPECT_EQ((r->out + r->err).find(PgServer::Shared().password()), std::string::npos);
}

// All history rows as "id|hash|created_at" lines.
inline std::string DrizzleHistoryRows(Database* db) {
  auto q = db->Query("SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id");
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  std::string out;
  if (!q.ok()) return out;
  for (size_t i = 0; i < q->rows.size(); ++i) out += q->Get(i, 0) + "|" + q->Get(i, 1) + "|" + q->Get(i, 2, "NULL") + "\n";
  return out;
}

}  // namespace su::testing
