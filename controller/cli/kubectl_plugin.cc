// kubectl plugin entry (see kubectl_plugin.h).
#include "controller/cli/kubectl_plugin.h"

#include <cstdio>
#include <cstring>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "controller/cli/kube_status_source.h"
#include "controller/cli/status_summary.h"
#include "reconcilers/base/secrets.h"

namespace su {
namespace {

const char* kPluginUsage =
    "kubectl schema-upgrade: safe service upgrades (schema-upgrade as a kubectl plugin)\n"
    "\n"
    "usage: kubectl schema-upgrade <command> [flags]\n"
    "\n"
    "  status [NAME] [-n NS | -A] [--state-dir DIR | --kubernetes]\n"
    "                                                 a summary per SchemaUpgrade: phase, current/target\n"
    "                                                 version, last step, next retry, blocked sessions\n"
    "  plan | apply | approve | lint | history | ...  the schema-upgrade commands (schema-upgrade --help)\n"
    "\n"
    "On Podman hosts status reads the controller's state folder (--state-dir, $SU_STATE_DIR or ./.state);\n"
    "with --kubernetes it reads the SchemaUpgrades' status from the cluster (--kubeconfig, --context).\n";

int PluginStatus(const std::vector<std::string>& args) {
  std::vector<FlagSpec> specs = {{"namespace", 'n', true, false, "only SchemaUpgrades in this namespace"},
                                 {"all-namespaces", 'A', false, false, "every namespace (the default)"},
                                 {"state-dir", 0, true, false, "Podman hosts: the controller's state folder (default $SU_STATE_DIR or ./.state)"},
                                 {"kubernetes", 0, false, false, "read the status subresources through the Kubernetes API"},
                                 {"kubeconfig", 0, true, false, "with --kubernetes: kubeconfig file (default $KUBECONFIG, in-cluster, ~/.kube/config)"},
                                 {"context", 0, true, false, "with --kubernetes: kubeconfig context"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("status", args, specs);
  if (!flags.ok()) return ReportError("status", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: kubectl schema-upgrade status [NAME] [flags]\n\n%s", FlagsHelp(specs).c_str());
    return 0;
  }
  if (flags->Has("namespace") && flags->Has("all-namespaces")) {
    return ReportError("status", Status::Invalid("-n and -A contradict: pick one namespace or all of them"));
  }
  const bool kubernetes = flags->Has("kubernetes");
  if (kubernetes && flags->Has("state-dir")) {
    return ReportError("status", Status::Invalid("--kubernetes and --state-dir contradict: the status lives in the "
                                                 "cluster or in a state folder; pass one of them"));
  }
  if (!kubernetes && (flags->Has("kubeconfig") || flags->Has("context"))) {
    return ReportError("status", Status::Invalid("--kubeconfig and --context need --kubernetes"));
  }
  if (flags->positional().size() > 1) return ReportError("status", Status::Invalid("give at most one NAME"));
  const std::string ns = flags->Get("namespace");
  const std::string name = flags->positional().empty() ? "" : flags->positional()[0];

  std::vector<ResourceStatus> all;
  std::string where;
  if (kubernetes) {
    kube::ConfigOptions c;
    c.kubeconfig = flags->Get("kubeconfig");
    c.context = flags->Get("context");
    auto listed = ListKubeStatuses(c, ns);
    if (!listed.ok()) return ReportError("status", listed.status());
    all = std::move(listed).value();
    where = "the cluster";
  } else {
    auto env = MakeCliEnv({flags->Get("state-dir"), "", false});
    auto stored = env->store->List();
    if (!stored.ok()) return ReportError("status", stored.status());
    for (auto& [k, st] : *stored) {
      all.push_back(st);
      if (all.back().resource.empty()) all.back().resource = k;
    }
    where = env->state_dir + " (is --state-dir the controller's?)";
  }
  int shown = 0;
  for (const auto& st : all) {
    const std::string& key = st.resource;
    auto slash = key.find('/');
    std::string k_ns = slash == std::string::npos ? "default" : key.substr(0, slash);
    std::string k_name = slash == std::string::npos ? key : key.substr(slash + 1);
    if (!ns.empty() && k_ns != ns) continue;
    if (!name.empty() && name != k_name && name != key) continue;
    std::printf("%s%s", shown ? "\n" : "", Scrub(RenderStatusSummary(st)).c_str());
    ++shown;
  }
  if (shown == 0) {
    std::string what = name.empty() ? "no SchemaUpgrade" : "no SchemaUpgrade " + name;
    if (!ns.empty()) what += " in namespace " + ns;
    return ReportError("status", Status::Error(Code::kNotFound, what + (kubernetes ? " in " : " has status in ") + where));
  }
  return 0;
}

}  // namespace

bool InvokedAsKubectlPlugin(const char* argv0) {
  if (!argv0) return false;
  const char* base = std::strrchr(argv0, '/');
  return std::strcmp(base ? base + 1 : argv0, "kubectl-schema_upgrade") == 0;
}

int RunKubectlPlugin(const std::vector<std::string>& args, int (*run_cli)(const std::vector<std::string>&)) {
  const std::string cmd = args.empty() ? "" : args[0];
  if (cmd.empty() || cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kPluginUsage, cmd.empty() ? stderr : stdout);
    return cmd.empty() ? 2 : 0;
  }
  if (cmd == "status") return PluginStatus(std::vector<std::string>(args.begin() + 1, args.end()));
  return run_cli(args);
}

}  // namespace su
