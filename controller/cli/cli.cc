// Subcommand dispatch and top-level usage (see cli.h).
#include "controller/cli/cli.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "controller/cli/backup_job.h"
#include "controller/cli/commands.h"
#include "controller/cli/kubectl_plugin.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/result.h"
#include "reconcilers/base/secrets.h"

#ifndef SU_VERSION
#define SU_VERSION "0.0.0"
#endif

namespace su {
namespace {

const char* kUsage =
    "schema-upgrade: safe service upgrades: migrate the database, bump the image, verify, record.\n"
    "\n"
    "usage: schema-upgrade <command> [flags]\n"
    "\n"
    "commands:\n"
    "  plan -f M.yaml [--output text|json|markdown]   what would change, lint findings, drift, plan hash\n"
    "  plan --from REF|DIR -f M.yaml                  the same offline (no database), from the previous version\n"
    "  apply -f M.yaml [--dry-run] [--wait D]        migrate, bump and verify, to completion\n"
    "  status [-f M.yaml | --all] [--output json]    phase, versions, attempts, last error, next retry\n"
    "  history (--dsn-env VAR | -f M.yaml)           the audit trail, newest first\n"
    "  lint PATH... [-o sarif|github] [--fail-on L]  risky statements, with the safe alternative\n"
    "  rollback -f M.yaml --to VERSION               run down migrations back to VERSION\n"
    "  approve -f M.yaml                             approve the current plan (writes its hash)\n"
    "  controller --manifests DIR [--compose FILE]   reconcile a folder of manifests continuously\n"
    "  version                                       print the version\n"
    "\n"
    "exit codes: 0 ok, 1 failed, 2 bad input, 3 lock busy, 4 held back by a gate\n"
    "(drift, approval, maintenance window, dry-run policy, lint errors).\n"
    "Run `schema-upgrade <command> --help` for a command's flags. Installed as kubectl-schema_upgrade,\n"
    "it is a kubectl plugin: `kubectl schema-upgrade status`.\n";

}  // namespace

int ReportError(const std::string& command, const Status& status) {
  std::fprintf(stderr, "schema-upgrade %s: error: %s\n", command.c_str(), Scrub(status.ToString()).c_str());
  return ExitCodeFor(status);
}

namespace {

// words: the command and its arguments (argv without the program name).
int Dispatch(const std::vector<std::string>& words) {
  std::string cmd = words.empty() ? "" : words[0];
  Args args(words.begin() + (words.empty() ? 0 : 1), words.end());
  if (cmd == "version" || cmd == "--version") {
    std::printf("schema-upgrade %s\n", SU_VERSION);
    return 0;
  }
  if (cmd == "" || cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, cmd.empty() ? stderr : stdout);
    return cmd.empty() ? 2 : 0;
  }
  // One-shot commands print their own summary; structured logs are for the controller (and for
  // SU_LOG_LEVEL=info|debug when debugging a one-shot run).
  if (cmd != "controller" && std::getenv("SU_LOG_LEVEL") == nullptr) SetLogLevel(LogLevel::kError);
  if (cmd == "plan") return CmdPlan(args);
  if (cmd == "apply") return CmdApply(args);
  if (cmd == "status") return CmdStatus(args);
  if (cmd == "history") return CmdHistory(args);
  if (cmd == "lint") return CmdLint(args);
  if (cmd == "rollback") return CmdRollback(args);
  if (cmd == "approve") return CmdApprove(args);
  if (cmd == "controller") return CmdController(args);
  if (cmd == "__print-folder") return CmdPrintFolder(args);
  if (cmd == "backup-job") return CmdBackupJob(args);  // hidden: the Kubernetes backup Jobs run it
  std::fprintf(stderr, "schema-upgrade: unknown command \"%s\"\n\n%s", cmd.c_str(), kUsage);
  return 2;
}

}  // namespace

int RunCli(int argc, char** argv) {
  std::vector<std::string> words(argv + (argc > 0 ? 1 : 0), argv + argc);
  // Installed as kubectl-schema_upgrade (a symlink), kubectl runs it as a plugin.
  if (argc > 0 && InvokedAsKubectlPlugin(argv[0])) {
    if (std::getenv("SU_LOG_LEVEL") == nullptr) SetLogLevel(LogLevel::kError);
    return RunKubectlPlugin(words, &Dispatch);
  }
  return Dispatch(words);
}

}  // namespace su
