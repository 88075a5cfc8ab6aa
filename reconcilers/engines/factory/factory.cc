// Engine selection (see factory.h).
#include "reconcilers/engines/factory/factory.h"

#include <map>

#include "reconcilers/base/file_cache.h"
#include "reconcilers/base/memory_fs.h"

#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "reconcilers/engines/ory/ory_engine.h"
#include "reconcilers/engines/sql/sql_engine.h"
#include "reconcilers/sqltext/lint.h"

namespace su {
namespace {

// Adds lint findings to pending migrations whose engine left them empty (drizzle), so `plan` and
// the failOnLintErrors gate see every engine's files the same way.
class LintingEngine : public Engine {
 public:
  LintingEngine(std::unique_ptr<Engine> inner, FileSystem* fs, bool in_transaction, bool sets_lock_timeout)
      : inner_(std::move(inner)), fs_(fs), in_transaction_(in_transaction), sets_lock_timeout_(sets_lock_timeout) {}
  std::string name() const override { return inner_->name(); }
  Result<EngineState> Observe(Database* db) override {
    auto st = inner_->Observe(db);
    if (!st.ok()) return st;
    std::map<std::string, Linted> linted;
    for (auto& m : st->pending) {
      if (!m.findings.empty() || m.file.empty()) continue;
      // The engine holds this run's texts, so the cache hands the same one back without a read;
      // a text linted by an earlier Observe of this run is not tokenized again.
      auto text = SharedMigrationFileCache()->Text(fs_, m.file);
      if (!text.ok()) continue;
      Linted l;
      if (auto it = linted_.find(m.file); it != linted_.end() && it->second.text == *text) {
        l = std::move(it->second);
      } else {
        LintOptions o;
        o.in_transaction = in_transaction_ && !m.no_transaction;
        o.runner_sets_lock_timeout = sets_lock_timeout_;
        auto f = LintSql(m.file, std::string_view((*text)->content), o);
        if (!f.ok()) continue;
        l.text = *text;
        l.findings = std::move(f).value();
      }
      m.findings = l.findings;
      linted.emplace(m.file, std::move(l));
    }
    if (st->uses_phases) {  // expand/contract: destructive statements belong in contract steps
      for (auto& m : st->pending) {
        if (m.phase == MigrationPhase::kExpand) PairExpandFindings(&m.findings);
      }
    }
    linted_ = std::move(linted);
    return st;
  }
  RunReport Apply(Database* db, const RunContext& ctx) override { return inner_->Apply(db, ctx); }
  RunReport Rollback(Database* db, const std::string& to, const RunContext& ctx) override {
    return inner_->Rollback(db, to, ctx);
  }
  RunReport RollbackVersions(Database* db, const std::vector<std::string>& versions, const RunContext& ctx) override {
    return inner_->RollbackVersions(db, versions, ctx);
  }

 private:
  struct Linted {
    std::shared_ptr<const MigrationText> text;
    std::vector<LintFinding> findings;
  };
  std::map<std::string, Linted> linted_;  // this run's pending files, by path
  std::unique_ptr<Engine> inner_;
  FileSystem* fs_;
  bool in_transaction_;
  bool sets_lock_timeout_;
};

// An engine over an in-memory folder: owns the file system view it reads (declared first: it
// outlives the engine) and the folder.
class FolderEngine : public Engine {
 public:
  FolderEngine(std::shared_ptr<const MigrationFolder> folder, std::unique_ptr<FileSystem> fs)
      : folder_(std::move(folder)), fs_(std::move(fs)) {}
  void set_inner(std::unique_ptr<Engine> inner) { inner_ = std::move(inner); }
  FileSystem* fs() { return fs_.get(); }
  std::string name() const override { return inner_->name(); }
  Result<EngineState> Observe(Database* db) override {
    auto st = inner_->Observe(db);
    if (st.ok()) {
      // plan and status say where the files came from (the pending files' paths start with it too).
      st->notes.push_back("migration files read from " + folder_->origin + " (spec.migrations.source): " +
                          std::to_string(folder_->files.size()) + " file(s), " + std::to_string(folder_->bytes) +
                          " bytes");
    }
    return st;
  }
  std::string HistoryMarkSql() const override { return inner_->HistoryMarkSql(); }
  Result<std::string> SourceStamp() override { return inner_->SourceStamp(); }
  RunReport Apply(Database* db, const RunContext& ctx) override { return inner_->Apply(db, ctx); }
  RunReport Rollback(Database* db, const std::string& to, const RunContext& ctx) override {
    return inner_->Rollback(db, to, ctx);
  }
  RunReport RollbackVersions(Database* db, const std::vector<std::string>& versions, const RunContext& ctx) override {
    return inner_->RollbackVersions(db, versions, ctx);
  }

 private:
  std::shared_ptr<const MigrationFolder> folder_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<Engine> inner_;
};

}  // namespace

Result<std::unique_ptr<Engine>> MakeEngine(const SchemaUpgrade& su, const std::string& dsn,
                                           const std::string& target_image, FileSystem* fs, ContainerRuntime* rt) {
  const auto& m = su.migrations;
  std::string where = su.source_file.empty() ? su.Key() : su.source_file;
  // Both engines SET lock_timeout from the policy before a file runs (0 means no limit): a file
  // that does not set it itself is not missing it.
  const bool sets_lock_timeout = su.policy.lock_timeout.count() > 0;
  if (m.engine == "sql" || m.engine == "drizzle") {
    if (m.path.empty()) return Status::Invalid(where + ": spec.migrations.path is required for engine " + m.engine);
    if (!fs->IsDir(m.path)) {
      return Status::Invalid(where + ": spec.migrations.path " + m.path + " is not a folder");
    }
    if (m.engine == "sql") {
      return NewSqlEngine(fs, m.path, m.schema.empty() ? "public" : m.schema, su.policy.accept_drift,
                          sets_lock_timeout);
    }
    DrizzleEngineOptions o;
    if (!m.schema.empty()) o.migrations_schema = m.schema;  // drizzle config's migrations.schema
    // drizzle runs every pending file in one transaction.
    return std::unique_ptr<Engine>(new LintingEngine(NewDrizzleEngine(fs, m.path, o), fs, true, sets_lock_timeout));
  }
  if (m.engine == "ory") {
    if (!rt) return Status::Invalid(where + ": engine ory needs a container runtime (podman), none is configured");
    if (target_image.empty()) {
      return Status::Invalid(where + ": engine ory runs migrations with the target image, but there is none: set "
                                     "spec.image or spec.workload");
    }
    OryEngineOptions o;
    o.image = target_image;
    o.up_command = m.command;
    o.status_command = m.status_command;
    o.dsn = dsn;
    o.retry_failed_runs = rt->RetriesFailedRuns();
    if (su.dsn.kind == DsnSource::Kind::kSecretKeyRef) {
      o.dsn_secret_name = su.dsn.secret_name;
      o.dsn_secret_key = su.dsn.secret_key;
    }
    return NewOryEngine(rt, std::move(o));
  }
  return Status::Invalid(where + ": spec.migrations.engine \"" + m.engine + "\" is not one of ory, drizzle, sql");
}

Result<std::unique_ptr<Engine>> MakeEngineFromFolder(const SchemaUpgrade& su,
                                                     std::shared_ptr<const MigrationFolder> folder) {
  if (su.migrations.engine != "sql" && su.migrations.engine != "drizzle") {
    return Status::Invalid((su.source_file.empty() ? su.Key() : su.source_file) +
                           ": spec.migrations.source is only for engines sql and drizzle");
  }
  auto owner = std::make_unique<FolderEngine>(folder, NewMemoryFileSystem(folder->origin, folder->files));
  SchemaUpgrade view = su;
  view.migrations.path = folder->origin;
  view.migrations.source = kMigrationSourceController;
  SU_ASSIGN_OR_RETURN(std::unique_ptr<Engine> inner, MakeEngine(view, "", "", owner->fs(), nullptr));
  owner->set_inner(std::move(inner));
  return std::unique_ptr<Engine>(std::move(owner));
}

Result<std::unique_ptr<Engine>> MakeEngineForSource(const SchemaUpgrade& su, const std::string& dsn,
                                                    const std::string& target_image, FileSystem* fs,
                                                    ContainerRuntime* rt, MigrationFolderReader* reader) {
  const auto& m = su.migrations;
  if (m.engine == "ory" || m.source.empty() || m.source == kMigrationSourceController) {
    return MakeEngine(su, dsn, target_image, fs, rt);
  }
  const std::string where = su.source_file.empty() ? su.Key() : su.source_file;
  if (!reader) {
    return Status::Invalid(where + ": spec.migrations.source " + m.source + " cannot be read here; use source "
                           "controller with a local folder");
  }
  std::shared_ptr<const MigrationFolder> folder;
  if (m.source == kMigrationSourceImage) {
    if (target_image.empty()) {
      return Status::Invalid(where + ": spec.migrations.source image reads the target image, but there is none: "
                                     "set spec.image or spec.workload");
    }
    SU_ASSIGN_OR_RETURN(folder, reader->FromImage(su, target_image));
  } else if (m.source == kMigrationSourceConfigMap) {
    SU_ASSIGN_OR_RETURN(folder, reader->FromConfigMap(su));
  } else {
    return Status::Invalid(where + ": spec.migrations.source \"" + m.source +
                           "\" is not one of controller, image, configMap");
  }
  return MakeEngineFromFolder(su, std::move(folder));
}

}  // namespace su
