// SARIF and GitHub workflow-command renderings of lint findings (lint_report.h). The SARIF is also
// validated by Microsoft's SARIF Multitool in tests/integration/lintci.
#include "reconcilers/sqltext/lint_report.h"

#include <gtest/gtest.h>

namespace su {
namespace {

LintFinding Finding(std::string file, int line, std::string rule, LintSeverity sev, std::string message) {
  LintFinding f;
  f.file = std::move(file);
  f.line = line;
  f.rule = std::move(rule);
  f.severity = sev;
  f.message = std::move(message);
  f.suggestion = "use CREATE INDEX CONCURRENTLY";
  f.statement = "CREATE INDEX i ON t (a)";
  return f;
}

TEST(LintReportTest, GithubCommandsEscapePropertiesAndMessage) {
  std::vector<LintFinding> fs = {
      Finding("/repo/db/1_a,b:c.up.sql", 3, "create-index-without-concurrently", LintSeverity::kWarning,
              "100% blocking\nwrites"),
      Finding("./db/2_b.up.sql", 0, "concurrently-in-transaction", LintSeverity::kError, "fails"),
  };
  std::string out = RenderFindingsGithub(fs, {"1.0.0", "/repo"});
  EXPECT_EQ(out,
            "::warning file=db/1_a%2Cb%3Ac.up.sql,line=3,title=schema-upgrade lint%3A create-index-without-concurrently"
            "::100%25 blocking%0Awrites. Safer: use CREATE INDEX CONCURRENTLY.\n"
            "::error file=db/2_b.up.sql,line=1,title=schema-upgrade lint%3A concurrently-in-transaction"
            "::fails. Safer: use CREATE INDEX CONCURRENTLY.\n");
  // Percent in the message is escaped first, so %0A in the input is not read as a newline.
  EXPECT_NE(out.find("100%25 blocking%0Awrites"), std::string::npos) << out;
}

TEST(LintReportTest, SarifHasRulesResultsAndRelativeUris) {
  std::vector<LintFinding> fs = {
      Finding("/repo/db/1 add \"x\".up.sql", 7, "create-index-without-concurrently", LintSeverity::kWarning,
              "blocks writes"),
      Finding("/elsewhere/2.up.sql", 2, "concurrently-in-transaction", LintSeverity::kError, "fails"),
  };
  std::string s = RenderFindingsSarif(fs, {"0.1.0", "/repo/"});
  EXPECT_NE(s.find("\"version\": \"2.1.0\""), std::string::npos);
  EXPECT_NE(s.find("\"id\": \"create-index-without-concurrently\""), std::string::npos);
  EXPECT_NE(s.find("\"name\": \"CreateIndexWithoutConcurrently\""), std::string::npos);
  EXPECT_NE(s.find("\"uri\": \"db/1%20add%20%22x%22.up.sql\", \"uriBaseId\": \"SRCROOT\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"originalUriBaseIds\": {\"SRCROOT\": {\"uri\": \"file:///repo/\"}}"), std::string::npos) << s;
  EXPECT_NE(s.find("\"uri\": \"file:///elsewhere/2.up.sql\"}"), std::string::npos) << s;
  EXPECT_NE(s.find("\"level\": \"error\""), std::string::npos);
  EXPECT_NE(s.find("\"startLine\": 7"), std::string::npos);
  EXPECT_NE(s.find("\"text\": \"blocks writes. Safer: use CREATE INDEX CONCURRENTLY.\""), std::string::npos) << s;
}

TEST(LintReportTest, SarifWithoutFindingsIsAnEmptyResultList) {
  std::string s = RenderFindingsSarif({}, {"0.1.0", "/repo"});
  EXPECT_NE(s.find("\"results\": [],"), std::string::npos) << s;
}

TEST(LintReportTest, ReportPathIsRelativeToBase) {
  EXPECT_EQ(ReportPath("/repo/a/b.sql", "/repo"), "a/b.sql");
  EXPECT_EQ(ReportPath("/repo/a/./b.sql", "/repo/"), "a/b.sql");
  EXPECT_EQ(ReportPath("./a/b.sql", "/repo"), "a/b.sql");
  EXPECT_EQ(ReportPath("/repository/b.sql", "/repo"), "/repository/b.sql");
}

}  // namespace
}  // namespace su
