#include "reconcilers/base/process.h"

#include <gtest/gtest.h>

namespace su {
namespace {

TEST(ProcessTest, CapturesOutputExitCodeAndEnvWithoutAShell) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo out:$SU_X; echo err >&2; exit 3", "ignored"};
  spec.env = {{"SU_X", "a b;c"}};
  auto r = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out:a b;c\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(ProcessTest, ArgumentsAreNotInterpretedByAShell) {
  ProcessSpec spec;
  spec.argv = {"echo", "$(id)", "; rm -rf /"};
  auto r = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "$(id) ; rm -rf /\n");
}

TEST(ProcessTest, MissingProgramIsNotFound) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/prog"};
  auto r = PosixProcessRunner()->Run(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST(ProcessTest, TimeoutKillsTheChild) {
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  spec.timeout = std::chrono::milliseconds(300);
  auto r = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_NE(r->exit_code, 0);
}

TEST(ProcessTest, StdinIsFed) {
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.stdin_data = std::string(200000, 'x');
  auto r = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), 200000u);
}

}  // namespace
}  // namespace su
