// `plan` and `apply`: both run the reconciler; plan as a dry run that only observes.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "controller/cli/cli_env.h"
#include "controller/cli/commands.h"
#include "controller/cli/flags.h"
#include "controller/runtime/signals.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/file_cache.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "api/conditions.h"
#include "reconcilers/offline/offline_plan.h"
#include "reconcilers/schemaupgrade/dependencies.h"
#include "reconcilers/schemaupgrade/observation_cache.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/schemaupgrade/plan_markdown.h"
#include "reconcilers/schemaupgrade/reconciler.h"

namespace su {
namespace {

std::vector<FlagSpec> CommonSpecs() {
  return {{"file", 'f', true, true, "manifest file or folder (repeatable)"},
          {"name", 0, true, false, "only the SchemaUpgrade with this name (or namespace/name)"},
          {"state-dir", 0, true, false, "status and backups folder (default $SU_STATE_DIR or ./.state)"},
          {"compose", 0, true, false, "compose file for ComposeService workloads that name none"},
          {"help", 'h', false, false, "show this help"}};
}

int Worst(int a, int b) { return a == 0 ? b : a; }

// A scratch folder for files an offline plan reads out of git or images, removed on scope exit.
class Scratch {
 public:
  Scratch() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/schema-upgrade-plan.XXXXXX";
    if (char* d = mkdtemp(tmpl.data())) path_ = d;
  }
  ~Scratch() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string OfflineText(const Plan& plan, const PlanCommentOptions& c, bool migrations_known) {
  std::string out = "Offline plan: " + (c.from_version.empty() ? std::string("a new resource") : "from " + c.from_version) +
                    " (" + c.from_label + ") to " + plan.target_version + ", computed without the database\n";
  if (!migrations_known) out += "  migrations: " + c.migrations_unknown + "\n";
  out += "  not known offline:\n";
  for (const auto& u : c.offline_unknowns) out += "    - " + u + "\n";
  out += "  plan hash: not known offline (it covers the database); approve with `schema-upgrade approve -f " +
         (c.manifest.empty() ? std::string("M.yaml") : c.manifest) + " --name " + plan.resource +
         "` where the database is reachable\n\n";
  return out + RenderPlanText(plan);
}

// `plan --from REF|DIR`: no database, no status, no podman run (images are only read).
int PlanFrom(const std::string& from, const std::vector<SchemaUpgrade>& resources, const std::string& output,
             const std::string& ory_path) {
  Scratch scratch;
  if (scratch.path().empty()) return ReportError("plan", Status::Io("cannot create a scratch folder in $TMPDIR"));
  auto previous = OpenPreviousSource(from, LocalFileSystem(), PosixProcessRunner(), scratch.path());
  if (!previous.ok()) return ReportError("plan", previous.status());
  OfflineOptions o;
  o.fs = LocalFileSystem();
  o.runner = PosixProcessRunner();
  o.scratch_dir = scratch.path();
  if (!ory_path.empty()) o.ory_migrations_path = ory_path;
  int code = 0;
  std::vector<std::string> jsons;
  for (const auto& su : resources) {
    auto r = PlanOffline(su, previous->get(), o);
    if (!r.ok()) {
      code = Worst(code, ReportError("plan", r.status().WithContext(su.Key())));
      continue;
    }
    r->comment.manifest = su.source_file;
    if (output == "json") {
      jsons.push_back(RenderOfflinePlanJson(*r));
    } else if (output == "markdown") {
      std::printf("%s\n", RenderPlanComment(r->plan, r->comment).c_str());
    } else {
      std::printf("%s\n", OfflineText(r->plan, r->comment, r->migrations_known).c_str());
    }
  }
  if (output == "json") {
    std::printf("[");
    for (size_t i = 0; i < jsons.size(); ++i) {
      std::string j = jsons[i];
      while (!j.empty() && j.back() == '\n') j.pop_back();
      std::printf("%s%s", i ? "," : "", j.c_str());
    }
    std::printf("]\n");
  }
  return code;
}

}  // namespace

int CmdPlan(const Args& args) {
  auto specs = CommonSpecs();
  specs.push_back({"output", 'o', true, false, "text (default), json or markdown (a PR comment)"});
  specs.push_back({"from", 0, true, false,
                   "offline: plan the upgrade from this git ref's (or folder's) version of the manifests, "
                   "without any database"});
  specs.push_back({"ory-migrations-path", 0, true, false,
                   "offline, engine ory: where the images keep their popx files (default /migrations)"});
  specs.push_back({"rehearse", 0, false, false,
                   "also run the pending migrations on a scratch copy of the database (dropped afterwards) and "
                   "report durations, locks, rows and table sizes; exit 1 when the rehearsal fails"});
  auto flags = Flags::Parse("plan", args, specs);
  if (!flags.ok()) return ReportError("plan", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade plan -f M.yaml [flags]\n       schema-upgrade plan --from REF|DIR -f M.yaml "
                "[flags]\n\nShows what apply would do; changes nothing. With --from, computes it offline (no "
                "database: for version-bump PRs in CI) from the previous version of the manifest and its "
                "migrations, and says what it cannot know.\n\n%s",
                FlagsHelp(specs).c_str());
    return 0;
  }
  std::string output = flags->Get("output", "text");
  if (output != "text" && output != "json" && output != "markdown") {
    return ReportError("plan", Status::Invalid("--output must be text, json or markdown, not \"" + output + "\""));
  }
  if (flags->Has("ory-migrations-path") && !flags->Has("from")) {
    return ReportError("plan", Status::Invalid("--ory-migrations-path is for offline plans: add --from REF"));
  }
  const bool rehearse = flags->Has("rehearse") && flags->Get("rehearse") == "true";
  if (rehearse && flags->Has("from")) {
    return ReportError("plan", Status::Invalid("--rehearse needs the database and --from plans without it: drop one"));
  }
  for (const char* f : {"state-dir", "compose"}) {
    if (flags->Has("from") && flags->Has(f)) {
      return ReportError("plan", Status::Invalid(std::string("--from and --") + f + " contradict: an offline plan "
                                                 "reads neither status nor the compose file; drop --" + f));
    }
  }
  auto resources = LoadResources(flags->GetAll("file"), flags->Get("name"));
  if (!resources.ok()) return ReportError("plan", resources.status());
  if (flags->Has("from")) return PlanFrom(flags->Get("from"), *resources, output, flags->Get("ory-migrations-path"));
  auto env = MakeCliEnv({flags->Get("state-dir"), flags->Get("compose"), false});
  // spec.dependsOn: the other SchemaUpgrades are those of the given manifests (all of them, also
  // when --name picks one); their readiness is their status in the state dir.
  auto known = LoadResources(flags->GetAll("file"), "");
  StaticResourceLookup lookup(known.ok() ? *known : *resources);
  env->deps.resources = &lookup;
  Reconciler reconciler(env->deps);
  int code = 0;
  std::vector<std::string> jsons;
  for (auto& su : *resources) {
    ApplyCliDefaults(*env, &su);
    ReconcileOptions opt;
    opt.dry_run = true;
    opt.rehearse = rehearse;
    auto out = reconciler.Reconcile(su, opt);
    if (!out.plan) {
      code = Worst(code, ReportError("plan", out.result.WithContext(su.Key())));
      continue;
    }
    // A failed rehearsal: the plan (with the rehearsal's report) is printed, and the exit says so.
    if (rehearse && out.reason == reasons::kRehearsalFailed) code = Worst(code, 1);
    // policy.rehearseOn's DSN source could not be read (the database's own would have left no plan):
    // bad input, said and exit 2, the plan still printed.
    if (rehearse && out.reason == reasons::kInvalidDatabaseSource) {
      code = Worst(code, ReportError("plan", out.result.WithContext(su.Key())));
    }
    if (output == "json") {
      jsons.push_back(RenderPlanJson(*out.plan));
    } else if (output == "markdown") {
      PlanCommentOptions c;
      c.manifest = su.source_file;
      std::printf("%s\n", RenderPlanComment(*out.plan, c).c_str());
    } else {
      std::printf("%s\n", RenderPlanText(*out.plan).c_str());
    }
  }
  if (output == "json") {
    if (jsons.size() == 1) {
      std::fputs(jsons[0].c_str(), stdout);
    } else {
      std::printf("[");
      for (size_t i = 0; i < jsons.size(); ++i) {
        std::string j = jsons[i];
        while (!j.empty() && j.back() == '\n') j.pop_back();
        std::printf("%s%s", i ? "," : "", j.c_str());
      }
      std::printf("]\n");
    }
  }
  return code;
}

namespace {

// This binary's identity (device, inode, size, times of /proc/self/exe); "" when unknown.
std::string BinaryTag() {
  auto st = LocalFileSystem()->Stat("/proc/self/exe");
  if (!st.ok()) return "";
  return std::to_string(st->device) + ":" + std::to_string(st->inode) + ":" + std::to_string(st->size) + ":" +
         std::to_string(st->mtime_ns) + ":" + std::to_string(st->ctime_ns);
}

}  // namespace

int CmdApply(const Args& args) {
  auto specs = CommonSpecs();
  specs.push_back({"dry-run", 0, false, false, "plan only: change nothing"});
  specs.push_back({"wait", 0, true, false, "keep retrying transient failures / waiting for the window this long (default 0)"});
  specs.push_back({"quiet", 'q', false, false, "no progress lines"});
  auto flags = Flags::Parse("apply", args, specs);
  if (!flags.ok()) return ReportError("apply", flags.status());
  if (flags->Has("help")) {
    std::printf("usage: schema-upgrade apply -f M.yaml [flags]\n\nMigrates, bumps and verifies each SchemaUpgrade "
                "to completion, in the foreground.\n\n%s", FlagsHelp(specs).c_str());
    return 0;
  }
  std::chrono::milliseconds wait{0};
  if (flags->Has("wait")) {
    auto w = ParseDuration(flags->Get("wait"));
    if (!w.ok()) return ReportError("apply", w.status().WithContext("--wait"));
    wait = *w;
  }
  bool dry_run = flags->Has("dry-run") && flags->Get("dry-run") == "true";
  auto resources = LoadResources(flags->GetAll("file"), flags->Get("name"));
  if (!resources.ok()) return ReportError("apply", resources.status());
  auto env = MakeCliEnv({flags->Get("state-dir"), flags->Get("compose"), !flags->Has("quiet")});
  // spec.dependsOn: dependencies among the given manifests are applied first; the others are
  // looked up among all the given manifests (also when --name picks one), their readiness in the
  // state dir.
  auto known = LoadResources(flags->GetAll("file"), "");
  StaticResourceLookup lookup(known.ok() ? *known : *resources);
  env->deps.resources = &lookup;
  *resources = OrderByDependencies(std::move(*resources));
  if (!dry_run) {
    // Status must be storable before anything changes: a state dir that is a file, or cannot be
    // created, is bad input found now, not after the migrations ran.
    Status s = CheckStateDir(env->state_dir);
    if (!s.ok()) return ReportError("apply", s);
  }
  // SIGTERM/SIGINT abandon the step in flight cleanly (statement cancelled, audit row closed).
  auto signal = ShutdownSignal::Install();
  if (!signal.ok()) return ReportError("apply", signal.status());
  ShutdownSignal* stop = signal->get();
  env->deps.cancelled = [stop] { return stop->StopRequested(); };
  // The last run's migration file checksums: unchanged applied files are stat'ed, not re-read and
  // hashed (a no-op apply over thousands of files); see file_cache.h.
  // Read only when a resource is observed in full: see below.
  const std::string checksums = JoinPath(env->state_dir, "file-checksums");
  if (!dry_run) SharedMigrationFileCache()->LoadChecksumsOnFirstUse(LocalFileSystem(), checksums);
  // The last run's observations (observation_cache.h): a resource still at its target, with its
  // folder's stamp, its history's mark and its database unchanged since, is planned without
  // reading the history, pairing the folder or loading the checksums (issue 10's no-op apply).
  // Fully re-read every 10 minutes, as the controller's default --full-observe-every. The tag is
  // this binary's identity: another build's observations are not trusted.
  ObservationCache observations(std::chrono::minutes(10));
  const std::string observed = JoinPath(env->state_dir, "observations");
  const std::string tag = BinaryTag();
  if (!dry_run && !tag.empty()) {
    observations.LoadInBackground(LocalFileSystem(), observed, tag);
    env->deps.observations = &observations;
    env->deps.observe_after_change = true;  // the next apply, a new process, starts from it
  }
  env->deps.connect_in_background = true;  // MakeCliEnv's connect opens a fresh session: thread-safe
  Reconciler reconciler(env->deps);
  int code = 0;
  for (auto& su : *resources) {
    if (stop->StopRequested()) break;
    ApplyCliDefaults(*env, &su);
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + wait;
    ReconcileOptions opt;
    opt.dry_run = dry_run;
    opt.force = true;  // an explicit apply is an explicit "try again"
    ReconcileOutcome out;
    int applied = 0;
    for (;;) {
      out = reconciler.Reconcile(su, opt);
      applied += out.migrations_applied;
      opt.force = false;
      if (out.terminal || out.requeue_after.count() == 0 || stop->StopRequested()) break;
      if (std::chrono::steady_clock::now() + out.requeue_after > deadline) break;
      std::fprintf(stderr, "%s: %s; trying again in %s\n", su.Key().c_str(), Scrub(out.status.message).c_str(),
                   FormatDuration(out.requeue_after).c_str());
      if (stop->WaitFor(out.requeue_after)) break;
    }
    long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    if (dry_run) {
      if (out.plan) std::printf("%s", RenderPlanText(*out.plan).c_str());
      std::printf("%s: dry run, nothing was changed\n", su.Key().c_str());
      if (!out.plan) {
        code = Worst(code, ReportError("apply", out.result.WithContext(su.Key())));
      } else if (out.result.code() == Code::kGated) {  // a real apply would be refused: say so
        std::printf("%s: apply would be held back: %s\n", su.Key().c_str(), Scrub(out.result.message()).c_str());
        code = Worst(code, ExitCodeFor(out.result));
      }
      continue;
    }
    const auto& st = out.status;
    if (!out.save_error.ok()) {
      // Losing status is a failure: the next status/plan would show a stale phase.
      code = Worst(code, ReportError("apply", Status::Io(su.Key() + ": the status could not be saved in " +
                                                         env->state_dir + ": " + out.save_error.message() +
                                                         "; `status` shows stale data. Free space or fix the "
                                                         "folder, then run apply again (it observes the "
                                                         "database and records where it is)")));
    }
    if (out.result.ok()) {
      std::printf("%s: %s: %zu migration(s) applied, database at %s%s (%lld ms)\n", su.Key().c_str(), PhaseName(st.phase),
                  static_cast<size_t>(applied), st.current_version.empty() ? "(empty)" : st.current_version.c_str(),
                  st.image.empty() ? "" : (", image " + st.image).c_str(), ms);
      continue;
    }
    // Succeeded when last observed, but this run could not observe it (an outage): not "Succeeded:".
    const char* phase = st.phase == Phase::kSucceeded ? "Unknown" : PhaseName(st.phase);
    std::printf("%s: %s: %s\n", su.Key().c_str(), phase, Scrub(st.message).c_str());
    // onFailure acts on permanent failures only: nothing to say for a transient one.
    if (!st.failure_action.empty() && st.phase == Phase::kFailed) std::printf("%s: on failure: %s\n", su.Key().c_str(), Scrub(st.failure_action).c_str());
    if (out.kind == OutcomeKind::kRetryAfter && out.requeue_after.count() > 0) {
      std::printf("%s: not finished; run apply again (or with --wait %s) to retry\n", su.Key().c_str(),
                  FormatDuration(out.requeue_after).c_str());
    }
    // Waiting (approval, window, dry-run policy) exits 4 like a refused gate: result is kGated then.
    code = Worst(code, ExitCodeFor(out.result));
  }
  if (!dry_run) {
    // Only a shortcut for the next run: a failure to save it changes nothing this run did.
    Status saved = SharedMigrationFileCache()->SaveChecksums(LocalFileSystem(), checksums);
    if (!saved.ok()) LogWarn("apply.checksum_cache_not_saved", {{"error", saved.message()}});
    if (env->deps.observations) {
      saved = observations.Save(LocalFileSystem(), observed, tag);
      if (!saved.ok()) LogWarn("apply.observations_not_saved", {{"error", saved.message()}});
    }
  }
  return code;
}

}  // namespace su
