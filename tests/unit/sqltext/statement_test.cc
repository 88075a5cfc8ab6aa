// Unit tests for statement.h: the splitter, Drizzle breakpoints, the no-transaction marker and
// statement summaries.
#include "reconcilers/sqltext/statement.h"

#include <gtest/gtest.h>

namespace su {
namespace {

std::vector<SqlStatement> MustSplit(const std::string& sql) {
  auto r = SplitStatements(sql);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : std::vector<SqlStatement>{};
}

std::vector<std::string> Texts(const std::vector<SqlStatement>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.text);
  return out;
}

std::vector<int> LinesOf(const std::vector<SqlStatement>& v) {
  std::vector<int> out;
  for (const auto& s : v) out.push_back(s.line);
  return out;
}

TEST(SplitStatements, SplitsSimpleStatementsAndReportsLines) {
  auto st = MustSplit("CREATE TABLE a (id int);\n\nINSERT INTO a VALUES (1);\nSELECT 1;\n");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"CREATE TABLE a (id int)", "INSERT INTO a VALUES (1)", "SELECT 1"}));
  EXPECT_EQ(LinesOf(st), (std::vector<int>{1, 3, 4}));
}

TEST(SplitStatements, EmptyAndCommentOnlyFilesGiveNoStatements) {
  EXPECT_TRUE(MustSplit("").empty());
  EXPECT_TRUE(MustSplit("  \n\t\r\n").empty());
  EXPECT_TRUE(MustSplit("-- only a comment; with a semicolon\n/* block; */\n;;\n").empty());
}

TEST(SplitStatements, KeepsFinalStatementWithoutSemicolon) {
  auto st = MustSplit("SELECT 1;\nSELECT 2\n");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"SELECT 1", "SELECT 2"}));
  EXPECT_EQ(LinesOf(st), (std::vector<int>{1, 2}));
}

TEST(SplitStatements, LeadingCommentsAreNotPartOfTheStatementAndLineIsFirstToken) {
  auto st = MustSplit("-- header; 'quote\n\n/* multi\n line ; */\n  ALTER TABLE t\n  ADD c int; -- trailing ; note\n");
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].text, "ALTER TABLE t\n  ADD c int");
  EXPECT_EQ(st[0].line, 5);
}

TEST(SplitStatements, SemicolonsInsideStringsAreNotBoundaries) {
  auto st = MustSplit("INSERT INTO t VALUES ('a;b', 'it''s; ok');\nSELECT ';';");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"INSERT INTO t VALUES ('a;b', 'it''s; ok')", "SELECT ';'"}));
}

TEST(SplitStatements, EscapeStringsUseBackslashEscapes) {
  // In E'' a backslash escapes the quote; in a plain string it does not.
  auto st = MustSplit("SELECT E'it\\'s; here';\nSELECT e'\\\\';\nSELECT 'C:\\';\nSELECT 2;");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"SELECT E'it\\'s; here'", "SELECT e'\\\\'", "SELECT 'C:\\'",
                                                 "SELECT 2"}));
}

TEST(SplitStatements, QuotedIdentifiersMayContainSemicolonsAndQuotes) {
  auto st = MustSplit("CREATE TABLE \"we;ird\"\"name\" (\"a'b\" int);\nSELECT 1;");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"CREATE TABLE \"we;ird\"\"name\" (\"a'b\" int)", "SELECT 1"}));
}

TEST(SplitStatements, DollarQuotedFunctionBodiesKeepInnerSemicolons) {
  std::string sql =
      "CREATE FUNCTION f() RETURNS trigger AS $$\n"
      "BEGIN\n"
      "  NEW.updated_at := now(); -- it's\n"
      "  RETURN NEW;\n"
      "END;\n"
      "$$ LANGUAGE plpgsql;\n"
      "CREATE FUNCTION g() RETURNS text AS $body$ SELECT 'x;' || $q$;$q$; $body$ LANGUAGE sql;\n"
      "DO $do$ BEGIN PERFORM 1; END $do$;\n";
  auto st = MustSplit(sql);
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].line, 1);
  EXPECT_NE(st[0].text.find("RETURN NEW;"), std::string::npos);
  EXPECT_EQ(st[0].text.substr(st[0].text.size() - 19), "$$ LANGUAGE plpgsql");
  EXPECT_EQ(st[1].line, 7);
  EXPECT_EQ(st[1].text, "CREATE FUNCTION g() RETURNS text AS $body$ SELECT 'x;' || $q$;$q$; $body$ LANGUAGE sql");
  EXPECT_EQ(st[2].text, "DO $do$ BEGIN PERFORM 1; END $do$");
  EXPECT_EQ(st[2].line, 8);
}

TEST(SplitStatements, PositionalParametersAreNotDollarQuotes) {
  auto st = MustSplit("PREPARE p AS SELECT $1 + $2;\nSELECT 3;");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"PREPARE p AS SELECT $1 + $2", "SELECT 3"}));
}

TEST(SplitStatements, DollarInsideIdentifierIsNotAQuote) {
  auto st = MustSplit("SELECT a$b, c$$ FROM t;\nSELECT 2;");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"SELECT a$b, c$$ FROM t", "SELECT 2"}));
}

TEST(SplitStatements, NestedBlockCommentsAreSkipped) {
  auto st = MustSplit("/* outer /* inner ; */ still comment ; */ SELECT 1; /* a */ SELECT /* b; */ 2;");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"SELECT 1", "SELECT /* b; */ 2"}));
}

TEST(SplitStatements, LineCommentsHideQuotesAndSemicolons) {
  auto st = MustSplit("SELECT 1 -- don't; stop\n+ 1;\nSELECT 2;");
  EXPECT_EQ(Texts(st), (std::vector<std::string>{"SELECT 1 -- don't; stop\n+ 1", "SELECT 2"}));
}

TEST(SplitStatements, CrlfLineEndings) {
  auto st = MustSplit("-- c\r\nCREATE TABLE a (\r\n  id int\r\n);\r\n\r\nSELECT 'x\r\ny';\r\nSELECT 3\r\n");
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].text, "CREATE TABLE a (\r\n  id int\r\n)");
  EXPECT_EQ(LinesOf(st), (std::vector<int>{2, 6, 8}));
}

TEST(SplitStatements, BeginAtomicBodiesStayInOneStatement) {
  std::string sql =
      "CREATE OR REPLACE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n"
      "BEGIN ATOMIC\n"
      "  SELECT CASE WHEN a > 0 THEN a ELSE 0 END + b;\n"
      "  SELECT 1;\n"
      "END;\n"
      "BEGIN;\n"
      "SELECT 2;\n"
      "END;\n";
  auto st = MustSplit(sql);
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st[0].text.substr(st[0].text.size() - 3), "END");
  EXPECT_NE(st[0].text.find("SELECT 1;"), std::string::npos);
  EXPECT_EQ(Texts(st)[1], "BEGIN");
  EXPECT_EQ(LinesOf(st), (std::vector<int>{1, 6, 7, 8}));
}

TEST(SplitStatements, LineNumbersCountNewlinesInsideStringsAndComments) {
  auto st = MustSplit("SELECT 'a\nb\nc';\n/* x\ny */ SELECT $$\n$$;\nSELECT \"q\nr\";\nSELECT 4;");
  EXPECT_EQ(LinesOf(st), (std::vector<int>{1, 5, 7, 9}));
}

TEST(SplitStatements, UnterminatedConstructsNameTheirStartLine) {
  struct Case {
    std::string sql;
    std::string want;
  };
  std::vector<Case> cases = {
      {"SELECT 1;\nSELECT 'abc;\n", "unterminated quoted string starting at line 2"},
      {"SELECT 1;\n\nSELECT E'ab\\';\n", "unterminated quoted string starting at line 3"},
      {"SELECT \"abc;\n", "unterminated quoted identifier starting at line 1"},
      {"\nCREATE FUNCTION f() AS $x$ SELECT 1; $y$;\n", "unterminated dollar-quoted string starting at line 2"},
      {"SELECT 1;\n/* a /* b */ c;\n", "unterminated block comment starting at line 2"},
      {"CREATE FUNCTION f() RETURNS int\nBEGIN ATOMIC\nSELECT 1;\n", "unterminated BEGIN ATOMIC body starting at line 2"},
  };
  for (const auto& c : cases) {
    auto r = SplitStatements(c.sql);
    ASSERT_FALSE(r.ok()) << c.sql;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.want) << c.sql;
  }
}

TEST(SplitOnBreakpoints, MatchesJavaScriptSplitWithoutTrimming) {
  std::string sql = "CREATE TABLE a (id int);\n--> statement-breakpoint\nCREATE INDEX i ON a (id);\n";
  EXPECT_EQ(SplitOnBreakpoints(sql),
            (std::vector<std::string>{"CREATE TABLE a (id int);\n", "\nCREATE INDEX i ON a (id);\n"}));
}

TEST(SplitOnBreakpoints, KeepsEmptyPartsLikeDrizzle) {
  EXPECT_EQ(SplitOnBreakpoints(""), (std::vector<std::string>{""}));
  EXPECT_EQ(SplitOnBreakpoints("SELECT 1"), (std::vector<std::string>{"SELECT 1"}));
  EXPECT_EQ(SplitOnBreakpoints("--> statement-breakpoint"), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(SplitOnBreakpoints("a--> statement-breakpoint--> statement-breakpoint\r\nb"),
            (std::vector<std::string>{"a", "", "\r\nb"}));
  // Only the exact marker splits.
  EXPECT_EQ(SplitOnBreakpoints("a\n--> statement breakpoint\nb").size(), 1u);
}

TEST(IsBlankStatement, DetectsWhitespaceAndCommentOnlyParts) {
  EXPECT_TRUE(IsBlankStatement(""));
  EXPECT_TRUE(IsBlankStatement("\n  \r\n"));
  EXPECT_TRUE(IsBlankStatement("-- Custom SQL migration file\n/* nothing */\n"));
  EXPECT_FALSE(IsBlankStatement("\nSELECT 1;\n"));
  EXPECT_FALSE(IsBlankStatement("/* unterminated"));
}

TEST(HasNoTransactionMarker, RecognisesMarkerOnFirstNonBlankLine) {
  EXPECT_TRUE(HasNoTransactionMarker("-- schema-upgrade: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);"));
  EXPECT_TRUE(HasNoTransactionMarker("\n\r\n  --schema-upgrade:no-transaction  \r\nSELECT 1;"));
  EXPECT_TRUE(HasNoTransactionMarker("\xEF\xBB\xBF-- Schema-Upgrade:  No-Transaction"));
}

TEST(HasNoTransactionMarker, RejectsMarkerElsewhereOrMisspelled) {
  EXPECT_FALSE(HasNoTransactionMarker(""));
  EXPECT_FALSE(HasNoTransactionMarker("SELECT 1;\n-- schema-upgrade: no-transaction\n"));
  EXPECT_FALSE(HasNoTransactionMarker("-- a comment\n-- schema-upgrade: no-transaction\n"));
  EXPECT_FALSE(HasNoTransactionMarker("-- schema-upgrade: no-transactions\n"));
  EXPECT_FALSE(HasNoTransactionMarker("-- schema-upgrade: lint-ignore drop-table\n"));
}

TEST(SummarizeStatement, UsesFirstCodeLineWithCollapsedWhitespace) {
  EXPECT_EQ(SummarizeStatement("CREATE   TABLE\tusers (\n  id int\n)"), "CREATE TABLE users (");
  EXPECT_EQ(SummarizeStatement("\n-- Custom SQL migration\n  ALTER TABLE t  ADD c int\n"), "ALTER TABLE t ADD c int");
  EXPECT_EQ(SummarizeStatement("-- only comment"), "-- only comment");
  EXPECT_EQ(SummarizeStatement(""), "");
}

TEST(SummarizeStatement, CutsLongLinesWithEllipsisWithinMaxLen) {
  std::string s = "SELECT " + std::string(200, 'x');
  std::string sum = SummarizeStatement(s, 20);
  EXPECT_EQ(sum, "SELECT xxxxxxxxxx...");
  EXPECT_EQ(sum.size(), 20u);
  EXPECT_EQ(SummarizeStatement("SELECT 1", 8), "SELECT 1");
  EXPECT_EQ(SummarizeStatement(s).size(), 100u);
}

TEST(SummarizeStatement, NeverCutsInsideUtf8Character) {
  // "é" is two bytes starting at byte 8; keeping 9 bytes would split the first one.
  EXPECT_EQ(SummarizeStatement("SELECT 'ééééééé'", 12), "SELECT '...");
  EXPECT_EQ(SummarizeStatement("SELECT 'ééééééé'", 13), "SELECT 'é...");
}

}  // namespace
}  // namespace su
