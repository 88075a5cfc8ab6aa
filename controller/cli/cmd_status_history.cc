// `status` (stored ResourceStatus) and `history` (the audit log in the database).
#include <cstdio>
#include <cstdlib>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "controller/cli/history_render.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/schemaupgrade/status_json.h"

namespace su {

int CmdStatus(const Args& args) {
  std::vector<FlagSpec> specs = {{"file", 'f', true, true, "manifest file or folder (repeatable)"},
                                 {"name", 0, true, false, "only this SchemaUpgrade"},
                                 {"all", 'A', false, false, "every resource with stored status"},
                                 {"state-dir", 0, true, false, "status folder (default $SU_STATE_DIR or ./.state)"},
                                 {"output", 'o', true, false, "text (default) or json"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("status", args, specs);
  if (!flags.ok()) return ReportError("status", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade status [-f M.yaml | --all] [flags]\n\n%s", FlagsHelp(specs).c_str());
    return 0;
  }
  std::string output = flags->Get("output", "text");
  if (output != "text" && output != "json") return ReportError("status", Status::Invalid("--output must be text or json"));
  if (flags->Has("all") && (flags->Has("file") || flags->Has("name"))) {
    return ReportError("status", Status::Invalid(std::string("--all and ") + (flags->Has("file") ? "-f" : "--name") +
                                                 " contradict: --all shows every stored status, -f/--name pick "
                                                 "resources; pass one or the other"));
  }
  auto env = MakeCliEnv({flags->Get("state-dir"), "", false});
  std::vector<std::pair<std::string, std::optional<ResourceStatus>>> rows;
  if (flags->Has("all") || !flags->Has("file")) {
    auto all = env->store->List();
    if (!all.ok()) return ReportError("status", all.status());
    for (auto& [k, s] : *all) rows.emplace_back(k, s);
  } else {
    auto resources = LoadResources(flags->GetAll("file"), flags->Get("name"));
    if (!resources.ok()) return ReportError("status", resources.status());
    for (const auto& su : *resources) {
      auto s = env->store->Load(su.Key());
      if (!s.ok()) return ReportError("status", s.status());
      rows.emplace_back(su.Key(), *s);
    }
  }
  if (output == "json") {
    std::string out = "[";
    bool first = true;
    for (const auto& [k, s] : rows) {
      if (!s) continue;
      out += (first ? "" : ",") + StatusToJson(*s);
      first = false;
    }
    std::printf("%s]\n", Scrub(out).c_str());
    return 0;
  }
  if (rows.empty()) std::printf("no status recorded yet in %s (run `schema-upgrade apply` or the controller)\n", env->state_dir.c_str());
  for (const auto& [k, s] : rows) {
    if (!s) {
      std::printf("%s: no status yet (never applied with state dir %s)\n", k.c_str(), env->state_dir.c_str());
      continue;
    }
    std::printf("%s\n", Scrub(RenderStatusText(*s)).c_str());
  }
  return 0;
}

int CmdHistory(const Args& args) {
  std::vector<FlagSpec> specs = {{"file", 'f', true, true, "manifest: use its database (repeatable)"},
                                 {"name", 0, true, false, "only this SchemaUpgrade"},
                                 {"dsn-env", 0, true, false, "environment variable holding the DSN"},
                                 {"resource", 0, true, false, "only rows of this namespace/name"},
                                 {"limit", 'n', true, false, "rows to show (default 50)"},
                                 {"output", 'o', true, false, "text (default) or json"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("history", args, specs);
  if (!flags.ok()) return ReportError("history", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade history (--dsn-env VAR | -f M.yaml) [flags]\n\n%s", FlagsHelp(specs).c_str());
    return 0;
  }
  std::string output = flags->Get("output", "text");
  if (output != "text" && output != "json") return ReportError("history", Status::Invalid("--output must be text or json"));
  int limit = std::atoi(flags->Get("limit", "50").c_str());
  if (limit <= 0) return ReportError("history", Status::Invalid("--limit must be a positive number"));
  std::string dsn, resource = flags->Get("resource");
  if (flags->Has("dsn-env") && flags->Has("file")) {
    return ReportError("history", Status::Invalid("--dsn-env and -f contradict: both say which database to read; "
                                                  "pass one of them"));
  }
  if (flags->Has("dsn-env")) {
    const char* v = std::getenv(flags->Get("dsn-env").c_str());
    if (!v || !*v) {
      return ReportError("history", Status::Invalid("environment variable " + flags->Get("dsn-env") +
                                                    " is not set (it should hold the database DSN)"));
    }
    dsn = v;
    RegisterDsnSecrets(dsn);
  } else if (flags->Has("file")) {
    auto resources = LoadResources(flags->GetAll("file"), flags->Get("name"));
    if (!resources.ok()) return ReportError("history", resources.status());
    auto d = ResolveDsn(resources->front(), LocalFileSystem(), [](const char* n) { return std::getenv(n); });
    if (!d.ok()) return ReportError("history", d.status());
    dsn = *d;
    if (resource.empty() && flags->Has("name")) resource = resources->front().Key();
  } else {
    return ReportError("history", Status::Invalid("pass --dsn-env VAR or -f M.yaml to say which database"));
  }
  auto db = ConnectPostgres(dsn, "schema-upgrade-history");
  if (!db.ok()) return ReportError("history", db.status());
  AuditLog log(db->get());
  auto rows = log.List(limit, resource);
  if (!rows.ok()) return ReportError("history", rows.status());
  std::fputs(Scrub(output == "json" ? RenderHistoryJson(*rows) : RenderHistoryText(*rows)).c_str(), stdout);
  return 0;
}

}  // namespace su
