// The subcommands of schema-upgrade. Each takes the arguments after its name and returns the
// process exit code (0 ok, 1 failed, 2 bad input, 3 lock busy, 4 held back by a gate).
#pragma once

#include <string>
#include <vector>

namespace su {

using Args = std::vector<std::string>;

int CmdPlan(const Args& args);
int CmdApply(const Args& args);
int CmdStatus(const Args& args);
int CmdHistory(const Args& args);
int CmdLint(const Args& args);
int CmdRollback(const Args& args);
int CmdApprove(const Args& args);
int CmdController(const Args& args);
// Hidden: the folder-reading Job's command (cmd_print_folder.cc).
int CmdPrintFolder(const Args& args);

// Prints "error: <message>" (scrubbed) and a hint line to stderr; returns ExitCodeFor(status).
int ReportError(const std::string& command, const class Status& status);

}  // namespace su
