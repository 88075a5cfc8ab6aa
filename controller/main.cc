// schema-upgrade: entry point. All work is in controller/cli (cli.h).
#include "controller/cli/cli.h"

int main(int argc, char** argv) { return su::RunCli(argc, argv); }
