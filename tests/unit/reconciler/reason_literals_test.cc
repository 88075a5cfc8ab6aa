// Reasons, condition types and event types are named constants (api/conditions.h), never string
// literals in the steps: a typo in a literal reason would silently break everyone matching on it.
// Scans the sources (SU_SOURCE_DIR) with a small C++ lexer: comments are skipped, string literals
// are collected with their position.
//   1. reconcilers/schemaupgrade/: no literal equals a value defined in api/conditions.h.
//   2. reconcilers/schemaupgrade/ and controller/: no CamelCase literal is passed to a call that
//      takes a reason or condition type (Fatal, Retry, Wait, Event, SetCondition, ...), so a new
//      reason written out by hand is caught even before it is added to the header.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/conditions.h"

namespace su {
namespace {

namespace fs = std::filesystem;

struct Literal {
  size_t pos;  // offset of the opening quote in the source
  std::string text;
};

struct Lexed {
  std::string code;  // the source with comments and literal contents blanked (same offsets)
  std::vector<Literal> literals;
};

Lexed Lex(const std::string& src) {
  Lexed out;
  out.code = src;
  size_t i = 0;
  const size_t n = src.size();
  while (i < n) {
    if (src.compare(i, 2, "//") == 0) {
      while (i < n && src[i] != '\n') out.code[i++] = ' ';
    } else if (src.compare(i, 2, "/*") == 0) {
      size_t end = src.find("*/", i + 2);
      end = end == std::string::npos ? n : end + 2;
      for (; i < end; ++i) out.code[i] = src[i] == '\n' ? '\n' : ' ';
    } else if (src[i] == 'R' && i + 1 < n && src[i + 1] == '"') {  // raw string R"d(...)d"
      size_t open = src.find('(', i + 2);
      std::string delim = ")" + src.substr(i + 2, open - i - 2) + "\"";
      size_t end = src.find(delim, open);
      end = end == std::string::npos ? n : end + delim.size();
      out.literals.push_back({i + 1, src.substr(open + 1, end - delim.size() - open - 1)});
      for (; i < end; ++i) out.code[i] = ' ';
    } else if (src[i] == '"' || src[i] == '\'') {
      char q = src[i];
      size_t start = i++;
      std::string text;
      while (i < n && src[i] != q) {
        if (src[i] == '\\' && i + 1 < n) text += src[i++];
        text += src[i++];
      }
      ++i;
      if (q == '"') out.literals.push_back({start, text});
      for (size_t k = start + 1; k + 1 < i && k < n; ++k) out.code[k] = ' ';
    } else {
      ++i;
    }
  }
  return out;
}

int LineOf(const std::string& src, size_t pos) {
  return 1 + static_cast<int>(std::count(src.begin(), src.begin() + static_cast<long>(pos), '\n'));
}

// Literals that are CamelCase words passed inside the parentheses of a reason-taking call.
std::vector<std::string> ReasonLiteralsInCalls(const std::string& src) {
  static const std::regex kCall(
      R"(\b(Fatal|Retry|Wait|Event|SetCondition|FindCondition|OnFailure|on_event|Failed|RetryAfter|Waiting|WaitFor)\s*\()");
  static const std::regex kCamel("^[A-Z][a-z0-9]+([A-Z][a-z0-9]*)*$");
  Lexed lx = Lex(src);
  std::vector<std::string> found;
  for (auto it = std::sregex_iterator(lx.code.begin(), lx.code.end(), kCall); it != std::sregex_iterator(); ++it) {
    size_t open = static_cast<size_t>(it->position()) + it->length() - 1;
    int depth = 0;
    size_t close = open;
    for (; close < lx.code.size(); ++close) {
      if (lx.code[close] == '(') ++depth;
      if (lx.code[close] == ')' && --depth == 0) break;
    }
    for (const auto& l : lx.literals) {
      if (l.pos > open && l.pos < close && std::regex_match(l.text, kCamel)) {
        found.push_back("line " + std::to_string(LineOf(src, l.pos)) + ": \"" + l.text + "\" in " + (*it)[1].str() + "(...)");
      }
    }
  }
  return found;
}

std::set<std::string> DefinedNames() {
  std::set<std::string> names(std::begin(reasons::kAll), std::end(reasons::kAll));
  for (const char* s : {condition::kReady, condition::kReconciling, condition::kStalled, condition_status::kTrue,
                        condition_status::kFalse, condition_status::kUnknown, event_type::kNormal,
                        event_type::kWarning}) {
    names.insert(s);
  }
  return names;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path SourceDir() {
  const char* d = std::getenv("SU_SOURCE_DIR");
  return d && *d ? fs::path(d) : fs::path(SU_SOURCE_DIR_DEFAULT);
}

std::vector<fs::path> Sources(const fs::path& dir, bool recursive) {
  std::vector<fs::path> out;
  auto add = [&](const fs::directory_entry& e) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".cc" || ext == ".h")) out.push_back(e.path());
  };
  if (!fs::exists(dir)) return out;
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) add(e);
  } else {
    for (const auto& e : fs::directory_iterator(dir)) add(e);
  }
  return out;
}

TEST(ReasonLiteralsTest, TheCheckCatchesAHandWrittenReason) {
  // The check itself: a literal reason in a call is found, one in a comment or a message is not.
  std::string sample =
      "return Fatal(s, \"BackupFailed\");  // Fatal(s, \"InComment\")\n"
      "return Retry(Status::Error(Code::kCancelled, \"stopping\"), reasons::kCancelled);\n"
      "SetCondition(&st_, condition::kReady, \"Unknown\", reason, msg, gen, now);\n"
      "Event(event_type::kNormal, \"Migrated\", \"3 migration(s) applied\");\n";
  auto found = ReasonLiteralsInCalls(sample);
  ASSERT_EQ(found.size(), 3u) << ::testing::PrintToString(found);
  EXPECT_NE(found[0].find("\"BackupFailed\" in Fatal"), std::string::npos) << found[0];
  EXPECT_NE(found[1].find("line 3: \"Unknown\""), std::string::npos) << found[1];
  EXPECT_NE(found[2].find("\"Migrated\" in Event"), std::string::npos) << found[2];
}

TEST(ReasonLiteralsTest, EveryReasonIsACamelCaseWordAndUnique) {
  std::set<std::string> seen;
  for (const char* r : reasons::kAll) {
    EXPECT_TRUE(std::regex_match(std::string(r), std::regex("^[A-Z][a-z]+([A-Z][a-z]*)*$"))) << r;
    EXPECT_TRUE(seen.insert(r).second) << "listed twice: " << r;
  }
}

TEST(ReasonLiteralsTest, ReconcilerStepsUseNamedConstantsOnly) {
  const fs::path dir = SourceDir() / "reconcilers" / "schemaupgrade";
  auto files = Sources(dir, false);
  ASSERT_GT(files.size(), 5u) << "no reconciler sources under " << dir;
  const std::set<std::string> defined = DefinedNames();
  for (const auto& f : files) {
    // status.cc spells the phase names (PhaseName), one of which is also the reason Succeeded.
    if (f.filename() == "status.cc") continue;
    std::string src = Read(f);
    for (const auto& l : Lex(src).literals) {
      EXPECT_FALSE(defined.count(l.text)) << f.filename().string() << ":" << LineOf(src, l.pos) << ": \"" << l.text
                                          << "\" is defined in api/conditions.h: use the constant";
    }
    for (const auto& hit : ReasonLiteralsInCalls(src)) ADD_FAILURE() << f.filename().string() << ": " << hit;
  }
}

TEST(ReasonLiteralsTest, ControllerPassesNoLiteralReasons) {
  auto files = Sources(SourceDir() / "controller", true);
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    for (const auto& hit : ReasonLiteralsInCalls(Read(f))) ADD_FAILURE() << f.string() << ": " << hit;
  }
}

}  // namespace
}  // namespace su
