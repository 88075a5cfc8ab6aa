// schema-upgrade: entry point. All work is in controller/lib (cli.h).
#include "controller/lib/cli.h"

int main(int argc, char** argv) { return su::RunCli(argc, argv); }
