#include "reconcilers/base/secrets.h"

#include <gtest/gtest.h>

#include "reconcilers/base/log.h"

namespace su {
namespace {

TEST(SecretsTest, RedactsUrlAndKeywordPasswords) {
  EXPECT_EQ(RedactDsn("postgres://app:hunter2@db:5432/x"), "postgres://app:***@db:5432/x");
  EXPECT_EQ(RedactDsn("host=db password=hunter2 user=app"), "host=db password=*** user=app");
  EXPECT_EQ(RedactDsn("host=db password='a b' user=app"), "host=db password=*** user=app");
}

TEST(SecretsTest, RegisteredDsnNeverReachesTheLog) {
  RegisterDsnSecrets("postgresql://u:Sup3rSecretPw@127.0.0.1:1/db");
  std::string line;
  SetLogSink([&](const std::string& l) { line = l; });
  LogError("connect.failed", {{"error", "auth failed for Sup3rSecretPw"}});
  SetLogSink([](const std::string& l) { fprintf(stderr, "%s\n", l.c_str()); });
  EXPECT_EQ(line.find("Sup3rSecretPw"), std::string::npos) << line;
  EXPECT_NE(line.find("***"), std::string::npos);
}

}  // namespace
}  // namespace su

namespace su {
namespace {

TEST(SecretsTest, RedactsEveryPasswordInLongerText) {
  EXPECT_EQ(RedactDsn("a postgresql://u:p1@h/x and PASSWORD = 'x \\' y' then password=z2 end"),
            "a postgresql://u:***@h/x and PASSWORD = *** then password=*** end");
  EXPECT_EQ(RedactDsn("postgres://user@host/db password"), "postgres://user@host/db password");
  EXPECT_EQ(RedactDsn("no secrets here"), "no secrets here");
}

}  // namespace
}  // namespace su
