// RunCli: runs the built schema-upgrade binary (path from $SU_BINARY, set by ctest) with argv and
// extra environment, capturing exit code, stdout and stderr. For CLI-level integration tests.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace su::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliResult RunCli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                 const std::string& stdin_data = "");
// Path of the binary under test.
std::string CliBinary();
// Root of the source tree ($SU_SOURCE_DIR), for fixtures.
std::string SourceDir();

}  // namespace su::testing
