// `lint` (static checks of migration files) and `rollback` (down migrations).
#include <cstdio>
#include <filesystem>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "controller/cli/progress.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/base/text_check.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/engines/sql/sql_folder.h"
#include "reconcilers/engines/sql/sql_prepare.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/runtimes/migration_folder.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/sqltext/lint.h"
#include "reconcilers/sqltext/lint_report.h"
#include "reconcilers/sqltext/statement.h"

#ifndef SU_VERSION
#define SU_VERSION "0.0.0"
#endif

namespace su {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Files to lint under path: the file itself, or a folder's *.sql files (not *.down.sql: undoing
// is meant to be destructive), sorted.
Result<std::vector<std::string>> LintTargets(FileSystem* fs, const std::string& path) {
  if (!fs->Exists(path)) return Status::Error(Code::kNotFound, path + ": no such file or folder");
  if (!fs->IsDir(path)) return std::vector<std::string>{path};
  SU_ASSIGN_OR_RETURN(auto names, fs->ListDir(path));
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (EndsWith(n, ".sql") && !EndsWith(n, ".down.sql")) out.push_back(JoinPath(path, n));
  }
  return out;
}

}  // namespace

int CmdLint(const Args& args) {
  std::vector<FlagSpec> specs = {{"output", 'o', true, false, "text (default), json, sarif (SARIF 2.1.0) or github "
                                                             "(workflow-command annotations)"},
                                 {"disable", 0, true, true, "skip a rule (repeatable)"},
                                 {"fail-on", 0, true, false, "exit 1 when a finding at this level or above exists: "
                                                             "error (default), warning or none"},
                                 {"strict", 0, false, false, "same as --fail-on warning"},
                                 {"runner-sets-lock-timeout", 0, false, false,
                                  "the files run under schema-upgrade, whose policy.lockTimeout (default 5s) sets "
                                  "lock_timeout: missing-lock-timeout is not reported (as in plan)"},
                                 {"rules", 0, false, false, "list the rules and exit"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("lint", args, specs);
  if (!flags.ok()) return ReportError("lint", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade lint PATH... [flags]\n\nPATH: a .sql file or a folder of them (with -o sarif "
                "or github, none at all gives an empty report).\nExit codes: 0 no finding at the --fail-on level, 1 "
                "a finding at that level or above (error by default), 2 bad input (flag, unreadable file, a file "
                "that does not split).\n\n%s", FlagsHelp(specs).c_str());
    return 0;
  }
  if (flags->Has("rules")) {
    for (const auto& [id, desc] : LintRules()) std::printf("%-36s %s\n", id.c_str(), desc.c_str());
    return 0;
  }
  const std::string output = flags->Get("output", "text");
  if (output != "text" && output != "json" && output != "sarif" && output != "github") {
    return ReportError("lint", Status::Invalid("--output must be text, json, sarif or github, not \"" + output + "\""));
  }
  std::string fail_on = flags->Get("fail-on", flags->Has("strict") ? "warning" : "error");
  if (fail_on != "error" && fail_on != "warning" && fail_on != "none") {
    return ReportError("lint", Status::Invalid("--fail-on must be error, warning or none, not \"" + fail_on + "\""));
  }
  if (flags->Has("strict") && flags->Has("fail-on") && fail_on != "warning") {
    return ReportError("lint", Status::Invalid("--strict and --fail-on " + fail_on + " contradict: --strict means "
                                               "--fail-on warning; pass one of them"));
  }
  // A CI job whose PR changed no migration still uploads a (empty) report.
  const bool report = output == "sarif" || output == "github";
  if (flags->positional().empty() && !report) {
    return ReportError("lint", Status::Invalid("give at least one file or folder to lint"));
  }
  FileSystem* fs = LocalFileSystem();
  LintOptions base;
  base.disabled_rules = flags->GetAll("disable");
  base.runner_sets_lock_timeout = flags->Has("runner-sets-lock-timeout");
  for (const auto& d : base.disabled_rules) {
    bool known = false;
    for (const auto& [id, _] : LintRules()) known = known || id == d;
    if (!known) return ReportError("lint", Status::Invalid("--disable " + d + ": no such rule (see lint --rules)"));
  }
  std::vector<LintFinding> all;
  for (const auto& p : flags->positional()) {
    auto files = LintTargets(fs, p);
    if (!files.ok()) return ReportError("lint", files.status());
    if (fs->IsDir(p)) {
      // A folder meant for migrations.source configMap must fit one ConfigMap: say so before
      // `kubectl create configmap` (or a silent partial copy) does.
      size_t bytes = 0;
      for (const std::string& rel : {std::string("meta/_journal.json")}) {
        if (auto t = fs->ReadFile(JoinPath(p, rel)); t.ok()) bytes += rel.size() + t->size();
      }
      for (const auto& f : *files) {
        if (auto t = fs->ReadFile(f); t.ok()) bytes += BaseName(f).size() + t->size();
      }
      if (bytes > kConfigMapLimitBytes) {
        std::fprintf(stderr,
                     "note: %s: %zu bytes of migration files, more than one ConfigMap holds (%zu bytes, 1 MiB): "
                     "spec.migrations.source configMap cannot carry this folder; use source image or controller\n",
                     p.c_str(), bytes, kConfigMapLimitBytes);
      }
    }
    // Expand/contract: a folder with any contract migration pairs its expand files' destructive
    // findings (PairExpandFindings); a bad directive is bad input like a bad file name.
    bool phased = false;
    std::vector<std::vector<LintFinding>> per_file;
    std::vector<MigrationPhase> phases;
    for (const auto& f : *files) {
      auto text = fs->ReadFile(f);
      if (!text.ok()) return ReportError("lint", text.status());
      // A NUL byte would cut the file short at apply time, bad UTF-8 would fail mid-run: both are
      // bad input, found here first.
      if (Status t = CheckMigrationText(f, *text); !t.ok()) return ReportError("lint", t);
      auto directives = ReadMigrationDirectives(f, *text);
      if (!directives.ok()) return ReportError("lint", directives.status());
      auto phase = MigrationPhaseOf(f, *directives);
      if (!phase.ok()) return ReportError("lint", phase.status());
      // A backfill's directive and statement get the checks plan and apply make (PrepareMigration:
      // its fields, one statement using $1 and $2, knobs without `backfill`): bad input here too.
      if (DirectivesBeyondPhase(*directives)) {
        auto prepared = PrepareMigration(BaseName(f), "", f, *text);
        if (!prepared.ok()) return ReportError("lint", prepared.status());
      }
      LintOptions o = base;
      o.in_transaction = !HasNoTransactionMarker(*text);
      auto findings = LintSql(f, *text, o);
      if (!findings.ok()) return ReportError("lint", findings.status().WithContext(f));
      phased |= *phase == MigrationPhase::kContract;
      phases.push_back(*phase);
      per_file.push_back(std::move(findings).value());
    }
    for (size_t i = 0; i < per_file.size(); ++i) {
      if (phased && fs->IsDir(p) && phases[i] == MigrationPhase::kExpand) PairExpandFindings(&per_file[i]);
      all.insert(all.end(), per_file[i].begin(), per_file[i].end());
    }
  }
  int errors = 0;
  for (const auto& f : all) errors += f.severity == LintSeverity::kError;
  LintReportOptions ro;
  ro.tool_version = SU_VERSION;
  std::error_code ec;
  ro.base_dir = std::filesystem::current_path(ec).string();
  if (output == "json") {
    std::fputs(RenderFindingsJson(all).c_str(), stdout);
  } else if (output == "sarif") {
    std::fputs(RenderFindingsSarif(all, ro).c_str(), stdout);
  } else if (output == "github") {
    std::fputs(RenderFindingsGithub(all, ro).c_str(), stdout);
  } else {
    for (const auto& f : all) {
      std::printf("%s:%d: %s [%s] %s\n    statement: %s\n    safer: %s\n", f.file.c_str(), f.line,
                  LintSeverityName(f.severity), f.rule.c_str(), f.message.c_str(), f.statement.c_str(),
                  f.suggestion.c_str());
    }
    std::printf("%zu finding(s), %d error(s)\n", all.size(), errors);
  }
  if (fail_on == "none") return 0;
  return (errors > 0 || (fail_on == "warning" && !all.empty())) ? 1 : 0;
}

int CmdRollback(const Args& args) {
  std::vector<FlagSpec> specs = {{"file", 'f', true, true, "manifest file"},
                                 {"name", 0, true, false, "only this SchemaUpgrade"},
                                 {"to", 0, true, false, "roll back every migration newer than this version"},
                                 {"dry-run", 0, false, false, "list what would be rolled back; change nothing"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("rollback", args, specs);
  if (!flags.ok()) return ReportError("rollback", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade rollback -f M.yaml --to VERSION [flags]\n\nRuns .down.sql files newest "
                "first, each in its own transaction; refuses before doing anything if one is missing.\n\n%s",
                FlagsHelp(specs).c_str());
    return 0;
  }
  if (!flags->Has("to")) return ReportError("rollback", Status::Invalid("--to VERSION is required (use 0 to undo all)"));
  std::string to = flags->Get("to");
  auto resources = LoadResources(flags->GetAll("file"), flags->Get("name"));
  if (!resources.ok()) return ReportError("rollback", resources.status());
  if (resources->size() != 1) {
    return ReportError("rollback", Status::Invalid("the manifests hold " + std::to_string(resources->size()) +
                                                   " SchemaUpgrades: pick one with --name"));
  }
  const SchemaUpgrade& su = resources->front();
  auto dsn = ResolveDsn(su, LocalFileSystem(), [](const char* n) { return std::getenv(n); });
  if (!dsn.ok()) return ReportError("rollback", dsn.status());
  auto db = ConnectPostgres(*dsn, "schema-upgrade:" + su.Key());
  if (!db.ok()) return ReportError("rollback", db.status());
  auto engine = MakeEngine(su, *dsn, su.image, LocalFileSystem(), nullptr);
  if (!engine.ok()) return ReportError("rollback", engine.status());
  auto state = (*engine)->Observe(db->get());
  if (!state.ok()) return ReportError("rollback", state.status());
  std::vector<std::string> victims;
  auto newer = [](const std::string& a, const std::string& b) {  // numeric versions: longer is newer
    return a.size() != b.size() ? a.size() > b.size() : a > b;
  };
  for (auto it = state->applied.rbegin(); it != state->applied.rend(); ++it) {
    if (to == "0" || newer(it->version, to)) victims.push_back(it->version + " " + it->name);
  }
  if (victims.empty()) {
    std::printf("%s: nothing to roll back (database at %s)\n", su.Key().c_str(),
                state->current_version.empty() ? "(empty)" : state->current_version.c_str());
    return 0;
  }
  if (flags->Has("dry-run")) {
    std::printf("%s: would roll back %zu migration(s), newest first:\n", su.Key().c_str(), victims.size());
    for (const auto& v : victims) std::printf("  - %s\n", v.c_str());
    return 0;
  }
  auto lock = MigrationLock::AcquireForDatabase(db->get(), su.policy.lock_wait, RealClock());
  if (!lock.ok()) return ReportError("rollback", lock.status());
  AuditLog log(db->get());
  if (Status s = log.Ensure(); !s.ok()) return ReportError("rollback", s);
  RunContext ctx;
  ctx.resource = su.Key();
  ctx.actor = CurrentActor();
  ctx.lock_timeout = su.policy.lock_timeout;
  ctx.statement_timeout = su.policy.statement_timeout;
  ctx.on_progress = TerminalProgress();
  RunReport r = (*engine)->Rollback(db->get(), to, ctx);
  if (!r.status.ok()) {
    if (!r.steps.empty()) std::fprintf(stderr, "%zu migration(s) were rolled back before the failure\n", r.steps.size());
    return ReportError("rollback", r.status);
  }
  std::printf("%s: rolled back %zu migration(s); database at %s\n", su.Key().c_str(), r.steps.size(),
              to == "0" ? "(empty)" : to.c_str());
  return 0;
}

}  // namespace su
