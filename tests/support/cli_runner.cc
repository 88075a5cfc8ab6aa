// RunCli (see cli_runner.h).
#include "tests/support/cli_runner.h"

#include <cstdlib>

#include "reconcilers/base/process.h"

namespace su::testing {

std::string CliBinary() {
  const char* e = std::getenv("SU_BINARY");
  return e ? e : "schema-upgrade";
}

std::string SourceDir() {
  const char* e = std::getenv("SU_SOURCE_DIR");
  return e ? e : ".";
}

CliResult RunCli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                 const std::string& stdin_data) {
  ProcessSpec spec;
  spec.argv.push_back(CliBinary());
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = env;
  spec.stdin_data = stdin_data;
  spec.timeout = std::chrono::minutes(10);
  CliResult r;
  auto res = PosixProcessRunner()->Run(spec);
  if (!res.ok()) {
    r.err = res.status().ToString();
    return r;
  }
  r.exit_code = res->exit_code;
  r.out = res->out;
  r.err = res->err;
  return r;
}

}  // namespace su::testing
