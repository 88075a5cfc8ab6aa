// The `ory` engine (see ory_engine.h): the target image's migrator in a one-off container, with
// schema_migration read before and after to know exactly what a run added.
#include "reconcilers/engines/ory/ory_engine.h"

#include "reconcilers/database/backup.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>
#include <map>
#include <set>
#include <sstream>

#include "reconcilers/base/log.h"
#include "reconcilers/base/process.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/database/audit_log.h"
#include "reconcilers/engines/ory/ory_status.h"
#include "reconcilers/engines/ory/popx_history.h"

namespace su {
namespace {

using SteadyClock = std::chrono::steady_clock;

bool IsVersionWord(const std::string& w) {
  return w.size() >= 8 && std::all_of(w.begin(), w.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Splits streamed output into lines, keeps the latest in arrival order (stderr and stdout
// interleaved as the migrator wrote them, which ProcessResult::Tail cannot know), and reports each
// "Applying migration <version> ..." line with the moment it arrived, for per-version durations.
class ApplyingLineWatcher {
 public:
  explicit ApplyingLineWatcher(std::function<void(const std::string& version)> on_start)
      : on_start_(std::move(on_start)) {}
  void Feed(const std::string& chunk, bool is_stderr) {
    std::string& buf = is_stderr ? err_ : out_;
    buf += chunk;
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      Line(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  const std::vector<std::pair<std::string, SteadyClock::time_point>>& starts() const { return starts_; }

  // The last n lines seen (partial last lines included), or "" when nothing was streamed.
  std::string Tail(size_t n) {
    if (!out_.empty()) Line(std::exchange(out_, ""));
    if (!err_.empty()) Line(std::exchange(err_, ""));
    size_t start = lines_.size() > n ? lines_.size() - n : 0;
    std::string r;
    for (size_t i = start; i < lines_.size(); ++i) r += (i == start ? "" : "\n") + lines_[i];
    return r;
  }

 private:
  void Line(const std::string& line) {
    lines_.push_back(line);
    if (lines_.size() > 200) lines_.pop_front();
    auto at = line.find("Applying migration ");
    if (at == std::string::npos) return;
    std::istringstream in(line.substr(at + 19));
    std::string word;
    if (!(in >> word) || !IsVersionWord(word)) return;
    starts_.emplace_back(word, SteadyClock::now());
    if (on_start_) on_start_(word);
  }
  std::function<void(const std::string&)> on_start_;
  std::string out_, err_;
  std::deque<std::string> lines_;
  std::vector<std::pair<std::string, SteadyClock::time_point>> starts_;
};

// podman's words when --name is taken (by a running container, or one that exited and stayed).
bool NameInUse(const Status& s) { return s.message().find("already in use") != std::string::npos; }

}  // namespace

std::string DatabaseScope(const std::string& dsn) {
  auto env = DsnToPgEnv(LibpqDsn(dsn));
  if (!env.ok()) return "";
  return (*env)["PGHOST"] + ":" + (*env)["PGPORT"] + "/" + (*env)["PGDATABASE"];
}

std::string OryMigrationContainerName(const std::string& resource) {
  std::string safe;
  for (char c : resource) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    safe += ok ? c : '-';
  }
  if (safe.size() > 40) safe.resize(40);
  // The hash keeps "a/b-c" and "a-b/c" apart after the character mapping.
  return "su-migrate-" + safe + "-" + Sha256Hex(resource).substr(0, 8);
}

namespace {

class OryEngine : public Engine {
 public:
  OryEngine(ContainerRuntime* rt, OryEngineOptions o) : rt_(rt), o_(std::move(o)) {
    if (o_.status_command.empty()) o_.status_command = DefaultOryStatusCommand(o_.up_command);
    RegisterDsnSecrets(o_.dsn);
  }

  std::string name() const override { return "ory"; }

  Result<EngineState> Observe(Database* db) override {
    SU_ASSIGN_OR_RETURN(std::vector<std::string> applied, ReadPopxVersions(db, o_.history_table));
    SU_ASSIGN_OR_RETURN(std::vector<OryStatusRow> rows, RunStatus());
    EngineState st;
    std::set<std::string> in_db(applied.begin(), applied.end());
    std::map<std::string, std::string> names;
    std::set<std::string> listed;
    for (const auto& r : rows) {
      names[r.version] = r.name;
      listed.insert(r.version);
      if (st.latest_version < r.version) st.latest_version = r.version;
      bool recorded = in_db.count(r.version) > 0;
      if (!recorded && r.pending()) {
        PendingMigration p;
        p.version = r.version;
        p.name = r.name;
        st.pending.push_back(std::move(p));
      } else if (!recorded && r.applied()) {
        st.notes.push_back("the image reports " + r.version + " (" + r.name + ") as applied but " + o_.history_table +
                           " has no row for it; is history_table right?");
      } else if (recorded && r.pending()) {
        st.notes.push_back(o_.history_table + " records " + r.version + " (" + r.name +
                           ") but the image reports it pending");
      }
    }
    for (const auto& v : applied) {
      AppliedMigration a;
      a.version = v;
      if (auto it = names.find(v); it != names.end()) a.name = it->second;
      st.applied.push_back(std::move(a));
      if (!listed.count(v)) st.unknown.push_back(v);
      if (!listed.count(v) && (st.latest_version.empty() || VersionLess(st.latest_version, v))) st.ahead.push_back(v);
    }
    if (!applied.empty()) st.current_version = applied.back();
    return st;
  }

  RunReport Apply(Database* db, const RunContext& ctx) override {
    RunReport rep;
    // One migrator run applies everything: the caller's check (maintenance window) is asked once,
    // before it. The migrations are the image's, fixed by its reference (which the plan hash covers).
    if (ctx.before_migration) {
      if (Status go = ctx.before_migration(""); !go.ok()) {
        rep.status = go;
        return rep;
      }
    }
    AuditLog audit(db, o_.audit_schema);
    if (Status s = audit.Ensure(); !s.ok()) {
      rep.status = s;
      return rep;
    }
    // The plan is for names and for naming the version a failed run stopped at; the migrator
    // decides by itself what to run, so a failed status listing does not stop the run.
    std::vector<OryStatusRow> rows;
    if (auto plan = RunStatus(); plan.ok()) {
      rows = std::move(plan).value();
    } else {
      LogWarn("ory_status_failed", {{"image", o_.image}, {"error", plan.status().message()}});
    }
    auto before = ReadPopxVersions(db, o_.history_table);
    if (!before.ok()) {
      rep.status = before.status();
      return rep;
    }
    std::map<std::string, std::string> names;
    std::vector<std::string> expected;  // pending per the image, in its order
    for (const auto& r : rows) {
      names[r.version] = r.name;
      if (r.pending() && !std::binary_search(before->begin(), before->end(), r.version)) expected.push_back(r.version);
    }
    auto name_of = [&](const std::string& v) {
      auto it = names.find(v);
      return it == names.end() ? std::string() : it->second;
    };

    AuditEntry run_row;
    run_row.resource = ctx.resource;
    run_row.engine = "ory";
    run_row.name = o_.image;
    run_row.direction = "up";
    run_row.statements_total = static_cast<int>(expected.size());
    run_row.actor = ctx.actor;
    run_row.detail = "migration container: " + FormatArgv(o_.up_command);
    auto run_id = audit.Begin(run_row);
    if (!run_id.ok()) {
      rep.status = run_id.status();
      return rep;
    }

    int started = 0;
    ApplyingLineWatcher watcher([&](const std::string& v) {
      if (!ctx.on_progress) return;
      Progress p;
      p.event = Progress::Event::kMigrationStart;
      p.version = v;
      p.name = name_of(v);
      p.migration_index = ++started;
      p.migrations_total = static_cast<int>(expected.size());
      ctx.on_progress(p);
    });
    ContainerRunSpec spec = Spec(o_.up_command);
    // One name per resource: while a migrator of an earlier run (a killed controller's, which
    // podman keeps running) still exists, podman refuses to start another one under that name.
    // Without a resource (direct engine use) there is nothing to key on: podman generates a name.
    if (!ctx.resource.empty()) spec.name = OryMigrationContainerName(ctx.resource + "@" + DatabaseScope(o_.dsn));
    spec.cancelled = ctx.cancelled;
    spec.on_output = [&](const std::string& chunk, bool is_stderr) { watcher.Feed(chunk, is_stderr); };
    LogInfo("ory_migrate_start", {{"image", o_.image}, {"command", FormatArgv(o_.up_command)},
                                  {"pending", std::to_string(expected.size())}});
    if (ctx.on_migrator_start) ctx.on_migrator_start();
    auto t0 = SteadyClock::now();
    auto run = rt_->RunOnce(spec);
    auto t_end = SteadyClock::now();
    if (!run.ok() && NameInUse(run.status())) {
      // Popx migrators take no lock: two at once race for the same versions and the loser fails.
      // Nothing ran; kLockBusy makes the reconciler come back after a backoff.
      rep.status = Status::Error(
          Code::kLockBusy,
          "the migration container " + spec.name + " of an earlier run still exists (most likely still running: a "
          "killed or restarted controller does not stop it); waiting until it is gone before starting another "
          "migrator. `podman logs " + spec.name + "` shows its progress; if it has exited and stays, remove it "
          "with `podman rm " + spec.name + "`");
      (void)audit.Finish(*run_id, "skipped", 0, rep.status.message());
      LogInfo("ory_migrate_wait_leftover", {{"image", o_.image}, {"container", spec.name}});
      return rep;
    }

    auto after = ReadPopxVersions(db, o_.history_table);
    std::vector<std::string> added;
    if (after.ok()) added = AddedVersions(*before, *after);

    // Steps: what the history gained, timed by the migrator's own lines where it printed them.
    const auto& starts = watcher.starts();
    for (const auto& v : added) {
      AppliedStep step;
      step.version = v;
      step.name = name_of(v);
      for (size_t i = 0; i < starts.size(); ++i) {
        if (starts[i].first != v) continue;
        auto end = i + 1 < starts.size() ? starts[i + 1].second : t_end;
        step.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(end - starts[i].second).count();
      }
      rep.steps.push_back(std::move(step));
    }

    std::string tail;
    if (!run.ok()) {
      rep.status = run.status().WithContext("running the migration container " + o_.image);
    } else if (!run->Succeeded() && !after.ok() && after.status().code() == Code::kUnavailable) {
      // The migrator failed and the database cannot be reached now: an outage, not a broken
      // migration. Retried (each applied migration is committed); onFailure does not run.
      tail = Scrub(watcher.Tail(20).empty() ? run->Tail(20) : watcher.Tail(20));
      rep.status = Status::Error(
          Code::kUnavailable,
          "migration container " + o_.image + " exited with code " + std::to_string(run->exit_code) +
              " and the database is unreachable now (" + after.status().message() +
              "); it runs again once the database is back" + (tail.empty() ? std::string() : ". Last output:\n" + tail));
    } else if (!run->Succeeded()) {
      tail = watcher.Tail(20);
      if (tail.empty()) tail = run->Tail(20);
      tail = Scrub(tail);
      rep.failed_version = FailedVersion(expected, starts, after.ok() ? *after : *before);
      std::string where = rep.failed_version.empty()
                              ? std::string()
                              : " at " + rep.failed_version +
                                    (name_of(rep.failed_version).empty() ? "" : " (" + name_of(rep.failed_version) + ")");
      std::string code = run->timed_out ? "timed out"
                         : run->exit_code >= 0 ? "exited with code " + std::to_string(run->exit_code)
                                               : "was killed by signal " + std::to_string(run->term_signal);
      rep.retry_with_backoff = o_.retry_failed_runs && !run->timed_out;
      const char* next =
          ctx.rehearsal ? ""  // on a copy: the rehearsal says what to do
          : rep.retry_with_backoff
              ? "; each applied migration is committed. It is retried with policy.retries' backoff up to "
                "retries.limit times in a row, then the failure is permanent (fix the cause, then a new "
                "olympus.io/retry annotation value or a spec change tries again)"
              : "; each applied migration is committed. Fix the cause, then ask for a new attempt (a failed "
                "migration is not retried on its own: the controller tries again when the spec changes, when the "
                "olympus.io/retry annotation gets a new value, or on `schema-upgrade apply`)";
      rep.status = Status::Failed("migration container " + o_.image + " (" + FormatArgv(o_.up_command) + ") " + code +
                                  where + " after adding " + std::to_string(added.size()) + " of " +
                                  std::to_string(expected.size()) + " pending migration(s)" + next +
                                  (tail.empty() ? std::string() : ". Last output:\n" + tail));
    } else if (!after.ok()) {
      rep.status = after.status().WithContext("the migration container succeeded, but reading the history failed");
    }
    if (rep.status.ok()) {
      for (const auto& v : expected) {
        if (!std::binary_search(after->begin(), after->end(), v))
          LogWarn("ory_pending_left", {{"image", o_.image}, {"version", v},
                                       {"reason", "the migrator exited 0 without recording it"}});
      }
    }

    // Audit: the run itself, then one row per version it added (and the one it stopped at).
    long long total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t_end - t0).count();
    std::string run_error = rep.status.ok() ? "" : (tail.empty() ? Scrub(rep.status.message()) : tail);
    Status audit_status =
        audit.Finish(*run_id, rep.status.ok() ? "succeeded" : "failed", static_cast<int>(added.size()), run_error);
    for (const auto& step : rep.steps) {
      AuditEntry e;
      e.resource = ctx.resource;
      e.engine = "ory";
      e.version = step.version;
      e.name = step.name;
      e.direction = "up";
      e.status = "succeeded";
      e.duration_ms = step.duration_ms;
      e.actor = ctx.actor;
      e.detail = "applied by " + o_.image + " (audit row " + std::to_string(*run_id) + ")";
      if (Status s = audit.Record(e); !s.ok() && audit_status.ok()) audit_status = s;
      if (ctx.on_progress) {
        Progress p;
        p.event = Progress::Event::kMigrationDone;
        p.version = step.version;
        p.name = step.name;
        p.elapsed_ms = step.duration_ms;
        p.migrations_total = static_cast<int>(expected.size());
        ctx.on_progress(p);
      }
    }
    if (!rep.failed_version.empty()) {
      AuditEntry e;
      e.resource = ctx.resource;
      e.engine = "ory";
      e.version = rep.failed_version;
      e.name = name_of(rep.failed_version);
      e.direction = "up";
      e.status = "failed";
      e.error = tail;
      e.actor = ctx.actor;
      e.detail = "rolled back by " + o_.image + " (audit row " + std::to_string(*run_id) + ")";
      if (Status s = audit.Record(e); !s.ok() && audit_status.ok()) audit_status = s;
    }
    if (rep.status.ok() && !audit_status.ok()) rep.status = audit_status;
    LogInfo("ory_migrate_done", {{"image", o_.image}, {"added", std::to_string(added.size())},
                                 {"duration_ms", std::to_string(total_ms)},
                                 {"status", rep.status.ok() ? "ok" : CodeName(rep.status.code())}});
    return rep;
  }

 private:
  ContainerRunSpec Spec(const std::vector<std::string>& command) const {
    ContainerRunSpec spec;
    spec.image = o_.image;
    if (!command.empty() && command[0] != "migrate" && command[0].rfind('-', 0) != 0) {
      spec.entrypoint = {command[0]};
      spec.args.assign(command.begin() + 1, command.end());
    } else {
      spec.args = command;
    }
    if (!o_.dsn_secret_name.empty()) {
      spec.env_from_secret[o_.dsn_env] = {o_.dsn_secret_name, o_.dsn_secret_key};
    } else {
      spec.env[o_.dsn_env] = o_.dsn;
    }
    spec.network = o_.network;
    spec.timeout = o_.run_timeout;
    return spec;
  }

  Result<std::vector<OryStatusRow>> RunStatus() {
    if (o_.status_command.empty()) return Status::Invalid("the ory engine needs a migration command (e.g. [kratos, migrate, sql, up, -e, --yes])");
    auto r = rt_->RunOnce(Spec(o_.status_command));
    std::string what = FormatArgv(o_.status_command) + " in " + o_.image;
    if (!r.ok()) return r.status().WithContext("running " + what);
    if (!r->Succeeded()) {
      return Status::Failed("running " + what + " failed (exit code " + std::to_string(r->exit_code) +
                            "); last output:\n" + Scrub(r->Tail(20)));
    }
    auto rows = ParseOryStatus(r->out);
    if (!rows.ok()) rows = ParseOryStatus(r->out + "\n" + r->err);  // some builds print the table to stderr
    if (!rows.ok()) return rows.status().WithContext(what);
    return rows;
  }

  // The version a failed run stopped at: the first expected one the history still lacks, else the
  // last one the migrator announced and did not record.
  static std::string FailedVersion(const std::vector<std::string>& expected,
                                   const std::vector<std::pair<std::string, SteadyClock::time_point>>& starts,
                                   const std::vector<std::string>& recorded) {
    for (const auto& v : expected)
      if (!std::binary_search(recorded.begin(), recorded.end(), v)) return v;
    for (auto it = starts.rbegin(); it != starts.rend(); ++it)
      if (!std::binary_search(recorded.begin(), recorded.end(), it->first)) return it->first;
    return "";
  }

  ContainerRuntime* rt_;
  OryEngineOptions o_;
};

}  // namespace

std::vector<std::string> DefaultOryStatusCommand(const std::vector<std::string>& up_command) {
  std::vector<std::string> out;
  size_t i = 0;
  for (; i < up_command.size() && up_command[i] != "up"; ++i) out.push_back(up_command[i]);
  if (i == up_command.size()) return {};  // not an "... up ..." command: nothing to derive from
  out.push_back("status");
  for (++i; i < up_command.size(); ++i) {
    const auto& w = up_command[i];
    if (w == "-e" || w == "--read-from-env") {
      out.push_back(w);
    } else if ((w == "-c" || w == "--config") && i + 1 < up_command.size()) {
      out.push_back(w);
      out.push_back(up_command[++i]);
    } else if (w.rfind("--config=", 0) == 0) {
      out.push_back(w);
    }
  }
  return out;
}

std::unique_ptr<Engine> NewOryEngine(ContainerRuntime* rt, OryEngineOptions options) {
  return std::make_unique<OryEngine>(rt, std::move(options));
}

std::unique_ptr<Engine> NewOryEngine(ContainerRuntime* rt, std::string image, std::vector<std::string> up_command,
                                     std::vector<std::string> status_command, std::string dsn_env_name,
                                     std::string dsn) {
  OryEngineOptions o;
  o.image = std::move(image);
  o.up_command = std::move(up_command);
  o.status_command = std::move(status_command);
  if (!dsn_env_name.empty()) o.dsn_env = std::move(dsn_env_name);
  o.dsn = std::move(dsn);
  return NewOryEngine(rt, std::move(o));
}

}  // namespace su
