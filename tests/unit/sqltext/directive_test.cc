// ParseDirectives / CheckDirectiveKeys (reconcilers/sqltext/directive.h).
#include "reconcilers/sqltext/directive.h"

#include <gtest/gtest.h>

namespace su {
namespace {

TEST(Directive, ReadsKeyValuesAndBareWordsFromTheHeader) {
  auto d = ParseDirectives(
      "-- add the lower-case email\n"
      "\n"
      "  -- schema-upgrade: phase=contract\n"
      "-- schema-upgrade: backfill table=users key=\"id\" batch=1000\n"
      "UPDATE users SET x = 1;\n");
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->items.size(), 5u);
  EXPECT_EQ(d->items[0].key, "phase");
  EXPECT_EQ(d->items[0].value, "contract");
  EXPECT_EQ(d->items[0].line, 3);
  EXPECT_EQ(d->items[1].key, "backfill");
  EXPECT_EQ(d->items[1].value, "");
  ASSERT_NE(d->Find("key"), nullptr);
  EXPECT_EQ(d->Find("key")->value, "id");
  EXPECT_EQ(d->Find("batch")->line, 4);
  EXPECT_EQ(d->Find("nope"), nullptr);
}

TEST(Directive, LintIgnoreCommentsBelongToLintAnywhereInTheFile) {
  // lint.h reads `-- schema-upgrade: lint-ignore a,b` anywhere; files written for it keep working.
  auto d = ParseDirectives(
      "-- schema-upgrade: lint-ignore add-column-default\n"
      "-- schema-upgrade: phase=contract\n"
      "ALTER TABLE t ADD COLUMN c int;\n"
      "-- schema-upgrade: lint-ignore drop-column, rename-column\n"
      "ALTER TABLE t DROP COLUMN b;\n");
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->items.size(), 1u);
  EXPECT_EQ(d->items[0].key, "phase");
}

TEST(Directive, AFileWithoutDirectivesHasNone) {
  auto d = ParseDirectives("CREATE TABLE t (id int);\n-- a comment after\n");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->empty());
  auto e = ParseDirectives("");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
}

TEST(Directive, ABlockCommentHeaderStillCountsAsHeader) {
  auto d = ParseDirectives("/* written by hand\n   for v2 */\n-- schema-upgrade: phase=contract\nDROP TABLE t;\n");
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_NE(d->Find("phase"), nullptr);
}

TEST(Directive, ADirectiveAfterTheFirstStatementIsAnErrorNamingItsLine) {
  auto d = ParseDirectives("CREATE TABLE t (id int);\n-- schema-upgrade: phase=contract\n");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  EXPECT_NE(d.status().message().find("line 2"), std::string::npos) << d.status().message();
  EXPECT_NE(d.status().message().find("before the first SQL statement"), std::string::npos);
}

TEST(Directive, AMissingColonIsAnErrorNotSilence) {
  auto d = ParseDirectives("-- schema-upgrade phase=contract\nDROP TABLE t;\n");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("line 1"), std::string::npos);
  EXPECT_NE(d.status().message().find("':'"), std::string::npos);
}

TEST(Directive, BadWordsAreErrors) {
  EXPECT_FALSE(ParseDirectives("-- schema-upgrade: phase=\n").ok());
  EXPECT_FALSE(ParseDirectives("-- schema-upgrade: =x\n").ok());
  EXPECT_FALSE(ParseDirectives("-- schema-upgrade: a=\"open\n").ok());
  auto twice = ParseDirectives("-- schema-upgrade: phase=contract\n-- schema-upgrade: phase=expand\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("line 2"), std::string::npos);
  EXPECT_NE(twice.status().message().find("first on line 1"), std::string::npos);
}

TEST(Directive, UnknownKeysAreNamedWithTheKnownOnes) {
  auto d = ParseDirectives("-- schema-upgrade: phse=contract\n");
  ASSERT_TRUE(d.ok());
  Status s = CheckDirectiveKeys(*d, {"phase", "backfill"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'phse'"), std::string::npos);
  EXPECT_NE(s.message().find("known: phase, backfill"), std::string::npos);
  EXPECT_TRUE(CheckDirectiveKeys(*d, {"phse"}).ok());
}

}  // namespace
}  // namespace su
