// `__print-folder --engine sql|drizzle DIR` (hidden, not in the usage): prints the engine's files
// of DIR as framed JSON (reconcilers/runtimes/migration_folder.h) on stdout. It is the container
// of the Job that reads spec.migrations.source image on Kubernetes: the target image's init
// container copies its folder into an emptyDir, this prints it, the controller reads the pod's log.
// Exit 0; 2 when DIR is not a folder or the output would exceed kMaxPrintedFolderBytes (the
// message says how big and what to do: a cut log would lose files, so nothing is printed).
#include <cstdio>

#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "reconcilers/runtimes/migration_folder.h"

namespace su {

int CmdPrintFolder(const Args& args) {
  const std::vector<FlagSpec> specs = {{"engine", 0, true, false, "sql or drizzle: which files to print"}};
  auto flags = Flags::Parse("__print-folder", args, specs);
  if (!flags.ok()) return ReportError("__print-folder", flags.status());
  const std::string engine = flags->Get("engine");
  if (engine != "sql" && engine != "drizzle") {
    return ReportError("__print-folder", Status::Invalid("--engine must be sql or drizzle, not \"" + engine + "\""));
  }
  if (flags->positional().size() != 1) {
    return ReportError("__print-folder", Status::Invalid("expected one folder: __print-folder --engine E DIR"));
  }
  const std::string dir = flags->positional()[0];
  // base64 grows the bytes by 4/3: refuse early what cannot fit once encoded.
  auto folder = ReadLocalMigrationFolder(LocalFileSystem(), dir, engine, kMaxPrintedFolderBytes / 4 * 3);
  if (!folder.ok()) return ReportError("__print-folder", folder.status());
  const std::string out = EncodeMigrationFolder(*folder);
  if (out.size() > kMaxPrintedFolderBytes) {
    return ReportError("__print-folder",
                       Status::Invalid("migrations folder " + dir + ": printed it is " + std::to_string(out.size()) +
                                       " bytes, more than the " + std::to_string(kMaxPrintedFolderBytes) +
                                       " one read of a Job's log carries safely; mount the folder into the "
                                       "controller (source: controller) instead"));
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace su
