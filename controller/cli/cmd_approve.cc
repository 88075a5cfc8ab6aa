// `approve`: computes the current plan and records its hash in the manifest as the annotation
// olympus.io/approved-plan-hash, so a GitOps review can approve exactly this plan; a changed plan
// (new migration, edited file, other image) has another hash and needs a new approval.
#include <cstdio>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "controller/cli/manifest_annotate.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/schemaupgrade/reconciler.h"

namespace su {

int CmdApprove(const Args& args) {
  std::vector<FlagSpec> specs = {{"file", 'f', true, false, "manifest file to approve (it is edited in place)"},
                                 {"name", 0, true, false, "the SchemaUpgrade, when the file holds several"},
                                 {"hash", 0, true, false, "approve only if the current plan has this hash"},
                                 {"state-dir", 0, true, false, "status folder"},
                                 {"compose", 0, true, false, "compose file for ComposeService workloads"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("approve", args, specs);
  if (!flags.ok()) return ReportError("approve", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade approve -f M.yaml [--hash H]\n\n%s", FlagsHelp(specs).c_str());
    return 0;
  }
  std::string file = flags->Get("file");
  if (file.empty()) return ReportError("approve", Status::Invalid("-f M.yaml is required"));
  auto resources = LoadResources({file}, flags->Get("name"));
  if (!resources.ok()) return ReportError("approve", resources.status());
  if (resources->size() != 1) return ReportError("approve", Status::Invalid(file + " holds several SchemaUpgrades: pick one with --name"));
  SchemaUpgrade su = resources->front();
  auto env = MakeCliEnv({flags->Get("state-dir"), flags->Get("compose"), false});
  ApplyCliDefaults(*env, &su);
  ReconcileOptions opt;
  opt.dry_run = true;
  auto out = Reconciler(env->deps).Reconcile(su, opt);
  if (!out.plan) return ReportError("approve", out.result);
  const std::string& hash = out.plan->hash;
  if (flags->Has("hash") && flags->Get("hash") != hash) {
    return ReportError("approve", Status::Error(Code::kGated, "the current plan is " + hash + ", not " +
                                                                  flags->Get("hash") + ": the plan changed since it was "
                                                                  "reviewed; review `schema-upgrade plan` again"));
  }
  auto text = LocalFileSystem()->ReadFile(file);
  if (!text.ok()) return ReportError("approve", text.status());
  auto edited = SetAnnotation(*text, su.name, "olympus.io/approved-plan-hash", hash);
  if (!edited.ok()) return ReportError("approve", edited.status().WithContext(file));
  // Validate before replacing the file: it must parse and now carry the approval.
  auto check = ParseManifests(*edited, file, DirName(file));
  if (!check.ok()) return ReportError("approve", check.status().WithContext("the edited manifest would not parse"));
  if (Status s = LocalFileSystem()->WriteFileAtomic(file, *edited); !s.ok()) return ReportError("approve", s);
  std::printf("%s: approved plan %s (%zu pending migration(s)); written to %s\n", su.Key().c_str(), hash.c_str(),
              out.plan->state.pending.size(), file.c_str());
  return 0;
}

}  // namespace su
