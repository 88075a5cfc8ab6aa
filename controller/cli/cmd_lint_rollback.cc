// `lint` (static checks of migration files) and `rollback` (down migrations).
#include <cstdio>
#include <filesystem>
#include <optional>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "controller/cli/progress.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/base/text_check.h"
#include "reconcilers/database/advisory_lock.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/database/restore.h"
#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/engines/sql/rollback_phases.h"
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
                                 {"expand-too", 0, false, false,
                                  "expand/contract: undo expand migrations even though the upgrade's contract "
                                  "migrations have not run (the old version runs on the schema as it is)"},
                                 {"state-dir", 0, true, false,
                                  "where the status (and the pre-upgrade backup's record) is kept; default "
                                  "$SU_STATE_DIR or ./.state"},
                                 {"allow-data-loss", 0, false, false,
                                  "when restoring the pre-upgrade backup: restore even over rows written since it"},
                                 {"help", 'h', false, false, "show this help"}};
  auto flags = Flags::Parse("rollback", args, specs);
  if (!flags.ok()) return ReportError("rollback", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade rollback -f M.yaml --to VERSION [flags]\n\nRuns .down.sql files newest "
                "first, each in its own transaction; refuses before doing anything if one is missing.\n"
                "Expand/contract folders (docs/expand-contract.md): refuses to undo expand migrations while the "
                "upgrade's contract migrations are pending (put the image back instead, or --expand-too); undoing "
                "contract migrations says what data their down files cannot bring back, and restores the "
                "pre-upgrade backup instead when a contract migration has no down file and --to is the version "
                "the backup was taken at.\n\n%s",
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
  // Expand/contract (docs/expand-contract.md "Rolling back by hand"): decided before any change.
  std::optional<PhasedRollback> phased;
  if (su.migrations.engine == "sql" && su.migrations.source == kMigrationSourceController) {
    auto p = PlanPhasedRollback(LocalFileSystem(), su.migrations.path, *state, to);
    if (!p.ok()) return ReportError("rollback", p.status());
    if (p->uses_phases) phased = std::move(p).value();
  }
  std::string restore_from;  // the pre-upgrade backup to restore instead of down files
  std::string restore_snapshot;
  if (phased) {
    for (size_t i = 0; i < victims.size() && i < phased->victims.size(); ++i) {
      victims[i] += phased->victims[i].phase == MigrationPhase::kContract ? " (contract)" : " (expand)";
    }
    if (phased->BetweenExpandAndContract() && !flags->Has("expand-too")) {
      std::string undo, pending;
      for (const auto& v : phased->victims) undo += (undo.empty() ? "" : ", ") + v.version + "_" + v.name;
      for (const auto& c : phased->pending_contract) pending += (pending.empty() ? "" : ", ") + c;
      return ReportError(
          "rollback",
          Status::Error(Code::kGated,
                        su.Key() + ": the upgrade stopped between its phases: its contract migration(s) " + pending +
                            " have not run, and the migration(s) to roll back (" + undo +
                            ") are expand migrations, backward compatible by design: the old version runs on this "
                            "schema as it is, and the new version, if it still runs, needs them. Put back only the "
                            "image: set spec.targetVersion to the old version with spec.policy.allowDowngrade: true "
                            "and run `schema-upgrade apply` (the database being ahead is allowed), and keep the "
                            "schema. Once no instance of the new version runs, pass --expand-too to undo them "
                            "anyway; nothing was changed"));
    }
    if (phased->UndoesContract()) {
      std::printf("%s: data lost: contract migrations removed data that their down files cannot bring back "
                  "(a down file recreates the shape, empty):\n", su.Key().c_str());
      bool any = false;
      for (const auto& v : phased->victims) {
        for (const auto& l : v.losses) {
          std::printf("  - %s_%s: %s\n", v.version.c_str(), v.name.c_str(), l.c_str());
          any = true;
        }
      }
      if (!any) std::printf("  (none found: no DROP TABLE, DROP COLUMN or TRUNCATE in them)\n");
    }
    if (auto missing = phased->ContractWithoutDown(); !missing.empty()) {
      std::string names;
      for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
      // Else the pre-upgrade backup: it holds the database exactly as it was at the version it
      // was taken at, so it may stand in for the down files only when that is --to.
      CliEnvOptions eo;
      eo.state_dir = flags->Get("state-dir");
      auto env = MakeCliEnv(eo);
      auto st = env->store->Load(su.Key());
      std::optional<ResourceStatus> status;
      if (st.ok() && st->has_value()) status = **st;
      const std::string at = status && status->backup ? status->backup->database_version : "";
      const bool usable = status && status->backup && !status->backup->path.empty() && !at.empty() &&
                          (to == "0" ? at == "0" : at != "0" && CompareVersions(at, to) == 0);
      if (!usable) {
        std::string why = !status ? "no status for " + su.Key() + " in " + env->state_dir + " (--state-dir)"
                          : !status->backup ? "the last upgrade took no backup (policy.backup.enabled)"
                          : at.empty() ? "the pre-upgrade backup " + status->backup->path +
                                             " does not record the database version it holds (status.backup."
                                             "databaseVersion: taken by an older schema-upgrade)"
                                       : "the pre-upgrade backup " + status->backup->path + " was taken at " +
                                             (at == "0" ? std::string("an empty database (0)") : at) +
                                             ", not at --to " + to;
        return ReportError("rollback",
                           Status::Invalid("contract migration(s) " + names + " have no .down.sql file, and the "
                                           "pre-upgrade backup cannot stand in for them: " + why +
                                           ". Write the down file(s), or roll back to the version the backup was "
                                           "taken at; nothing was changed"));
      }
      restore_from = status->backup->path;
      restore_snapshot = status->backup->snapshot;
      std::printf("%s: contract migration(s) %s have no .down.sql file: restoring the pre-upgrade backup %s "
                  "instead (the database as it was at %s)\n",
                  su.Key().c_str(), names.c_str(), restore_from.c_str(), to == "0" ? "(empty)" : to.c_str());
    }
  }
  if (flags->Has("dry-run")) {
    if (!restore_from.empty()) {
      std::printf("%s: would restore %s (rows written since it: refused unless --allow-data-loss)\n",
                  su.Key().c_str(), restore_from.c_str());
      return 0;
    }
    std::printf("%s: would roll back %zu migration(s), newest first:\n", su.Key().c_str(), victims.size());
    for (const auto& v : victims) std::printf("  - %s\n", v.c_str());
    return 0;
  }
  auto lock = MigrationLock::AcquireForDatabase(db->get(), su.policy.lock_wait, RealClock());
  if (!lock.ok()) return ReportError("rollback", lock.status());
  if (!restore_from.empty()) {
    RestoreOptions ro;
    ro.lock_timeout = su.policy.lock_timeout;
    ro.backup_snapshot = restore_snapshot;
    ro.allow_data_loss = flags->Has("allow-data-loss") || su.policy.restore_allow_data_loss;
    // The audit trail survives the restore, and the restore's own row commits with it (restore.h).
    ro.audit_row = AuditEntry{};
    ro.audit_row->resource = su.Key();
    ro.audit_row->engine = "controller";
    ro.audit_row->version = to;
    ro.audit_row->direction = "restore";
    ro.audit_row->actor = CurrentActor();
    ro.audit_row->detail = "rollback --to " + to + ": " + restore_from;
    auto rr = PgRestore(PosixProcessRunner(), *dsn, restore_from, ro);
    if (!rr.ok() || !rr->restored) {  // nothing changed: recorded outside the restore's transaction
      AuditEntry e = *ro.audit_row;
      e.status = rr.ok() ? "refused" : "failed";
      e.error = Scrub(rr.ok() ? std::to_string(rr->writes_since) + " row(s) written since the backup"
                              : rr.status().ToString());
      AuditLog log(db->get());
      if (log.Ensure().ok()) (void)log.Record(e);
    }
    if (!rr.ok()) return ReportError("rollback", rr.status().WithContext("restoring " + restore_from));
    if (!rr->restored) {
      return ReportError("rollback",
                         Status::Error(Code::kGated, std::to_string(rr->writes_since) +
                                                         " row(s) were written since the backup (" + rr->writes_detail +
                                                         "): restoring would lose them; nothing was changed. Pass "
                                                         "--allow-data-loss to restore anyway"));
    }
    std::printf("%s: restored %s; database at %s%s\n", su.Key().c_str(), restore_from.c_str(),
                to == "0" ? "(empty)" : to.c_str(),
                rr->writes_since > 0 ? ("; " + std::to_string(rr->writes_since) + " row(s) written since the backup "
                                        "were lost (" + rr->writes_detail + ")").c_str()
                                     : "");
    return 0;
  }
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
