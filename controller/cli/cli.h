// The schema-upgrade command line: parses argv, dispatches to a subcommand, returns the exit code
// (0 ok, 1 failed, 2 bad input, 3 lock busy, 4 gated: see docs/cli.md).
#pragma once

namespace su {

int RunCli(int argc, char** argv);

}  // namespace su
