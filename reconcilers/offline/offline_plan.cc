// Offline plans from two versions of the manifests (see offline_plan.h).
#include "reconcilers/offline/offline_plan.h"

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <unistd.h>

#include "reconcilers/base/sha256.h"
#include "reconcilers/engines/drizzle/drizzle_folder.h"
#include "reconcilers/engines/drizzle/drizzle_plan.h"
#include "reconcilers/engines/sql/sql_folder.h"
#include "reconcilers/engines/sql/sql_prepare.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/sqltext/lint.h"
#include "reconcilers/sqltext/statement.h"

namespace su {
namespace {

bool Listed(const std::vector<std::string>& list, const std::string& v) {
  for (const auto& x : list) {
    if (x == "*" || x == v) return true;
  }
  return false;
}

// The sql engine's planning (sql_engine.cc Load) with the previous folder's files standing in
// for the history table.
Result<EngineState> SqlState(FileSystem* fs, const std::vector<SqlMigrationFile>& before,
                             const std::string& folder, const SchemaUpgrade& su) {
  SU_ASSIGN_OR_RETURN(std::vector<SqlMigrationFile> files, ReadSqlFolder(fs, folder));
  EngineState st;
  std::map<std::string, const SqlMigrationFile*> now;
  for (const auto& f : files) now[f.version] = &f;
  std::set<std::string> applied;
  for (const auto& b : before) {
    applied.insert(b.version);
    st.applied.push_back({b.version, b.name, b.checksum, ""});
    auto f = now.find(b.version);
    if (f == now.end()) {
      st.unknown.push_back(b.version);
    } else if (f->second->checksum != b.checksum) {
      st.drift.push_back({b.version, b.name, f->second->up_path, b.checksum, f->second->checksum,
                          Listed(su.policy.accept_drift, b.version)});
      st.notes.push_back(f->second->up_path + " changed between the two versions: a database at the previous "
                         "version applied the old text, so apply reports it as drift");
    }
  }
  if (!before.empty()) st.current_version = before.back().version;
  if (!files.empty()) st.latest_version = files.back().version;
  for (const auto& u : st.unknown) {
    if (st.latest_version.empty() || VersionLess(st.latest_version, u)) st.ahead.push_back(u);
  }
  for (const auto& f : files) {
    // Expand/contract: the phase of every file (a bad directive refuses the folder, as apply would).
    SU_ASSIGN_OR_RETURN(Directives d, ReadMigrationDirectives(f.up_path, f.up_sql));
    SU_ASSIGN_OR_RETURN(MigrationPhase phase, MigrationPhaseOf(f.up_path, d));
    st.uses_phases |= phase == MigrationPhase::kContract;
    if (applied.count(f.version)) continue;
    SU_ASSIGN_OR_RETURN(PreparedMigration m, PrepareMigration(f.version, f.name, f.up_path, f.up_sql, f.up_autocommit));
    PendingMigration p;
    p.phase = phase;
    p.version = f.version;
    p.name = f.name;
    p.file = f.up_path;
    p.checksum = f.checksum;
    p.no_transaction = m.no_transaction;
    p.has_down = !f.down_path.empty();
    if (p.has_down) {
      SU_ASSIGN_OR_RETURN(std::string down_sql, fs->ReadFile(f.down_path));
      p.down_checksum = Sha256Hex(down_sql);
    }
    std::vector<std::string> texts;
    for (const auto& s : m.statements) {
      p.summary.push_back(SummarizeStatement(s.text));
      texts.emplace_back(s.text);
    }
    p.statements = StatementList(std::move(texts));
    LintOptions o;
    o.in_transaction = !m.no_transaction;
    o.runner_sets_lock_timeout = su.policy.lock_timeout.count() > 0;
    SU_ASSIGN_OR_RETURN(p.findings, LintSql(f.up_path, f.up_sql, o));
    if (!st.current_version.empty() && CompareVersions(f.version, st.current_version) < 0) {
      st.notes.push_back("migration " + f.version + "_" + f.name + " is older than the previous version's newest (" +
                         st.current_version + ") and will be applied out of order");
    }
    st.pending.push_back(std::move(p));
  }
  if (st.uses_phases) {
    for (auto& p : st.pending) {
      if (p.phase == MigrationPhase::kExpand) PairExpandFindings(&p.findings);
    }
  }
  return st;
}

Result<EngineState> DrizzleState(FileSystem* fs, const std::string& before_folder, const std::string& folder,
                                 const SchemaUpgrade& su) {
  SU_ASSIGN_OR_RETURN(DrizzleFolder now, LoadDrizzleFolder(fs, folder));
  std::vector<DrizzleHistoryRow> rows;
  if (!before_folder.empty()) {
    SU_ASSIGN_OR_RETURN(DrizzleFolder before, LoadDrizzleFolder(fs, before_folder));
    long long id = 0;
    for (const auto& m : before.migrations) rows.push_back({++id, m.hash, m.entry.when});
  }
  DrizzlePlan plan = PlanDrizzle(now, rows, su.policy.accept_drift);
  for (auto& m : plan.state.pending) {
    SU_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(m.file));
    LintOptions o;  // drizzle runs every pending file in one transaction
    o.runner_sets_lock_timeout = su.policy.lock_timeout.count() > 0;
    SU_ASSIGN_OR_RETURN(m.findings, LintSql(m.file, text, o));
    if (plan.state.uses_phases && m.phase == MigrationPhase::kExpand) PairExpandFindings(&m.findings);
  }
  return plan.state;
}

// Copies `path` out of a local image without running it: podman create, cp, rm.
Result<std::string> CopyFromImage(ProcessRunner* runner, const std::string& image, const std::string& path,
                                  const std::string& dest) {
  static std::atomic<int> counter{0};
  ProcessSpec exists;
  exists.argv = {"podman", "image", "exists", image};
  exists.timeout = std::chrono::minutes(1);
  SU_ASSIGN_OR_RETURN(ProcessResult e, runner->Run(exists));
  if (!e.Succeeded()) return Status::Error(Code::kNotFound, "image " + image + " is not present locally");
  const std::string name = "su-offline-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  ProcessSpec create;
  create.argv = {"podman", "create", "--name", name, image};
  create.timeout = std::chrono::minutes(2);
  SU_ASSIGN_OR_RETURN(ProcessResult c, runner->Run(create));
  if (!c.Succeeded()) return Status::Io("podman create " + image + " failed: " + c.Tail(3));
  ProcessSpec cp;
  cp.argv = {"podman", "cp", name + ":" + path, dest};
  cp.timeout = std::chrono::minutes(2);
  auto copied = runner->Run(cp);
  ProcessSpec rm;
  rm.argv = {"podman", "rm", "-f", name};
  rm.timeout = std::chrono::minutes(1);
  (void)runner->Run(rm);
  if (!copied.ok()) return copied.status();
  if (!copied->Succeeded()) {
    return Status::Error(Code::kNotFound, "image " + image + " has no " + path + " (" + copied->Tail(1) + ")");
  }
  return dest;
}

std::string ImageOf(const SchemaUpgrade& su) {
  if (!su.image.empty()) return su.image;
  if (su.workload.name.empty()) return "";
  return TargetImage(su, "<" + su.workload.name + "'s repository>:" + su.target_version);
}

std::vector<std::string> Unknowns(const std::string& from_label, const std::string& from_version) {
  std::string at = from_version.empty() ? "nothing (a new resource)" : "exactly the migrations of `" + from_version + "`";
  return {
      "the database's actual state: this plan assumes it holds " + at + " as `" + from_label + "` has them",
      "drift: whether migrations applied to the database were edited afterwards (only changes between the two "
      "versions' files are shown)",
      "migrations applied out of order or by hand, and versions the database holds beyond the previous version",
      "pre-flight checks: whether the target image can be pulled, the workload edit, maintenance windows, "
      "approval state and the database's identity (part of the plan hash)",
  };
}

}  // namespace

Result<OfflinePlan> PlanOffline(const SchemaUpgrade& su, PreviousSource* previous, const OfflineOptions& o) {
  OfflinePlan out;
  const std::string where = su.source_file.empty() ? su.Key() : su.source_file;

  // The previous manifest: the same file in the previous version, the resource with the same key.
  std::optional<SchemaUpgrade> before;
  if (!su.source_file.empty()) {
    auto prev_file = previous->Get(su.source_file);
    if (!prev_file.ok() && prev_file.status().code() != Code::kNotFound) return prev_file.status();
    if (prev_file.ok()) {
      auto loaded = LoadManifestFile(o.fs, *prev_file);
      if (!loaded.ok()) {
        return loaded.status().WithContext("the previous version of " + where + " (" + previous->label() + ")");
      }
      for (auto& r : *loaded) {
        if (r.Key() == su.Key()) before = std::move(r);
      }
    }
  }
  out.comment.offline = true;
  out.comment.from_label = previous->label();
  if (before) out.comment.from_version = before->target_version;
  out.comment.offline_unknowns = Unknowns(previous->label(), out.comment.from_version);

  // The previous migration source, materialised (empty when there was none).
  auto previous_folder = [&]() -> Result<std::string> {
    if (!before || before->migrations.engine != su.migrations.engine || before->migrations.path.empty()) {
      return std::string();
    }
    auto p = previous->GetPrevious(before->migrations.path);
    if (!p.ok() && p.status().code() == Code::kNotFound) {
      return Status::Invalid(where + ": the previous version's spec.migrations.path " + before->migrations.path +
                             " does not exist in " + previous->label());
    }
    return p;
  };

  EngineState st;
  const auto& engine = su.migrations.engine;
  if (engine == "sql" || engine == "drizzle") {
    if (su.migrations.path.empty() || !o.fs->IsDir(su.migrations.path)) {
      return Status::Invalid(where + ": spec.migrations.path " + su.migrations.path + " is not a folder");
    }
    SU_ASSIGN_OR_RETURN(std::string before_folder, previous_folder());
    if (engine == "sql") {
      std::vector<SqlMigrationFile> old_files;
      if (!before_folder.empty()) {
        auto r = ReadSqlFolder(o.fs, before_folder);
        if (!r.ok()) return r.status().WithContext("the previous version (" + previous->label() + ")");
        old_files = std::move(r).value();
      }
      SU_ASSIGN_OR_RETURN(st, SqlState(o.fs, old_files, su.migrations.path, su));
    } else {
      SU_ASSIGN_OR_RETURN(st, DrizzleState(o.fs, before_folder, su.migrations.path, su));
    }
  } else if (engine == "ory") {
    const std::string new_image = ImageOf(su), old_image = before ? ImageOf(*before) : "";
    std::string why;
    std::vector<SqlMigrationFile> old_files, new_files;
    static std::atomic<int> calls{0};
    const std::string scratch = JoinPath(o.scratch_dir, "ory-" + su.name + "-" + std::to_string(++calls));
    std::string new_dir = JoinPath(scratch, "new"), old_dir = JoinPath(scratch, "old");
    if (Status s = o.fs->MakeDirs(scratch); !s.ok()) return s;
    auto n = o.runner && !new_image.empty() ? CopyFromImage(o.runner, new_image, o.ory_migrations_path, new_dir)
                                            : Result<std::string>(Status::Error(Code::kNotFound, "no image to read"));
    if (!n.ok()) why = n.status().message();
    if (why.empty() && !old_image.empty()) {
      auto b = CopyFromImage(o.runner, old_image, o.ory_migrations_path, old_dir);
      if (!b.ok()) why = b.status().message();
      if (why.empty()) {
        auto r = ReadSqlFolder(o.fs, old_dir);
        if (!r.ok()) return r.status().WithContext(old_image);
        old_files = std::move(r).value();
      }
    }
    if (why.empty()) {
      SU_ASSIGN_OR_RETURN(st, SqlState(o.fs, old_files, new_dir, su));
      for (auto& m : st.pending) m.file = new_image + ":" + o.ory_migrations_path + "/" + m.file.substr(new_dir.size() + 1);
      for (auto& m : st.pending) {
        for (auto& f : m.findings) f.file = m.file;
      }
      st.notes.push_back("ory: migrations read from the images' " + o.ory_migrations_path + " (" +
                         (old_image.empty() ? "" : old_image + " and ") + new_image + "); the image's own migrator "
                         "runs them");
    } else {
      out.migrations_known = false;
      st.notes.push_back("ory: the migrations live inside the images and could not be listed offline: " + why +
                         ". Pull " + (old_image.empty() ? "" : old_image + " and ") + new_image +
                         " where this plan runs (podman pull) if they carry their popx files at " +
                         o.ory_migrations_path + "; official Ory images embed them in the binary, so their list "
                         "comes from `schema-upgrade plan` against the database");
      out.comment.migrations_unknown = "the ory migrations are inside the image " + new_image +
                                       ", which could not be read here (" + why + ")";
    }
  } else {
    return Status::Invalid(where + ": spec.migrations.engine \"" + engine + "\" is not one of ory, drizzle, sql");
  }

  std::string current_image = before ? ImageOf(*before) : "";
  out.plan = BuildPlan(su, st, current_image, ImageOf(su), "");
  return out;
}

}  // namespace su
