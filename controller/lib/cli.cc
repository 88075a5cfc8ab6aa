// Subcommand dispatch (see cli.h).
#include "controller/lib/cli.h"

#include <cstdio>
#include <string>

#ifndef SU_VERSION
#define SU_VERSION "0.0.0"
#endif

namespace su {

int RunCli(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "version") {
    std::printf("schema-upgrade %s\n", SU_VERSION);
    return 0;
  }
  std::fprintf(stderr, "usage: schema-upgrade <plan|apply|status|history|lint|rollback|controller|version> ...\n");
  return 2;
}

}  // namespace su
