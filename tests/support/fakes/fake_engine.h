// FakeEngine: an Engine over an in-memory migration world (FakeEngineWorld), for reconciler tests.
// Observe reports the world; Apply moves pending migrations to applied (all of them, or as many
// steps as a scripted RunReport lists) so that, like a real engine, a successful Apply leaves
// nothing pending for the next Observe. Rollback moves applied migrations newer than the target
// back to pending. The world outlives the engines made from it and counts every call.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "reconcilers/engines/engine.h"

namespace su::testing {

// A contract migration (expand/contract).
inline PendingMigration AsContract(PendingMigration m) {
  m.phase = MigrationPhase::kContract;
  return m;
}

inline PendingMigration FakePending(const std::string& version, const std::string& name,
                                    const std::string& checksum = "") {
  PendingMigration m;
  m.version = version;
  m.name = name;
  m.file = version + "_" + name + ".up.sql";
  m.checksum = checksum.empty() ? "sum-" + version : checksum;
  m.has_down = true;
  m.summary = {"CREATE TABLE " + name};
  return m;
}

struct FakeEngineWorld {
  std::string engine_name = "fake";    // Engine::name() (e.g. "ory" for the ory-only paths)
  std::vector<AppliedMigration> applied;
  std::vector<PendingMigration> pending;
  std::vector<DriftedMigration> drift;
  std::vector<std::string> ahead;      // reported as EngineState::ahead (the database is ahead)
  std::deque<Status> observe_errors;   // front consumed by each Observe; ok or empty: observe
  std::deque<RunReport> apply_script;  // front consumed by each Apply; empty: apply everything
  std::deque<RunReport> rollback_script;  // front consumed by each Rollback; empty: roll back
  // Runs inside Apply, before anything is applied (e.g. to play a blocked-session watcher).
  std::function<void(Database*, const RunContext&)> during_apply;
  // Runs inside Apply before each migration starts (before ctx.before_migration is asked), e.g. to
  // move a clock past the end of a maintenance window.
  std::function<void(const std::string& version)> before_each;
  // Runs inside Rollback, before anything is rolled back.
  std::function<void(Database*, const RunContext&)> during_rollback;
  std::vector<std::string>* journal = nullptr;  // "apply", "rollback:<to>" appended when set

  int observes = 0;
  // Atomic: tests stop a pass "right after migrating" with a `cancelled` callback that reads it,
  // and the reconciler polls `cancelled` from its stopper thread while Apply runs (a data race
  // under ThreadSanitizer when it was a plain int).
  std::atomic<int> applies{0};
  int rollbacks = 0;
  std::vector<std::string> rollback_to;
  std::vector<RunContext> apply_contexts;

  EngineState State() const {
    EngineState s;
    s.applied = applied;
    s.pending = pending;
    s.drift = drift;
    s.ahead = ahead;
    for (const auto& m : pending) s.uses_phases |= m.phase == MigrationPhase::kContract;
    s.unknown = ahead;
    if (!applied.empty()) s.current_version = applied.back().version;
    s.latest_version = !pending.empty() ? pending.back().version : s.current_version;
    return s;
  }
  void MarkApplied(size_t n) {
    for (size_t i = 0; i < n && !pending.empty(); ++i) {
      applied.push_back({pending.front().version, pending.front().name, pending.front().checksum, ""});
      pending.erase(pending.begin());
    }
  }
};

class FakeEngine : public Engine {
 public:
  explicit FakeEngine(FakeEngineWorld* w) : w_(w) {}
  std::string name() const override { return w_->engine_name; }

  Result<EngineState> Observe(Database*) override {
    ++w_->observes;
    if (!w_->observe_errors.empty()) {
      Status s = w_->observe_errors.front();
      w_->observe_errors.pop_front();
      if (!s.ok()) return s;
    }
    return w_->State();
  }

  RunReport Apply(Database* db, const RunContext& ctx) override {
    ++w_->applies;
    w_->apply_contexts.push_back(ctx);
    if (w_->journal) w_->journal->push_back("apply");
    if (w_->during_apply) w_->during_apply(db, ctx);
    RunReport r;
    if (!w_->apply_script.empty()) {
      r = w_->apply_script.front();
      w_->apply_script.pop_front();
    }
    if (r.status.ok() && r.steps.empty()) {
      const size_t n = ctx.expand_only ? ExpandPrefix(w_->pending) : w_->pending.size();
      for (size_t i = 0; i < n; ++i) {
        const auto& m = w_->pending[i];
        if (BeyondUpTo(m.version, ctx)) break;  // an upgrade-path step: the rest stays pending
        if (w_->before_each) w_->before_each(m.version);
        if (ctx.before_migration) {
          if (Status go = ctx.before_migration(m.version); !go.ok()) {
            r.status = go;
            break;
          }
        }
        r.steps.push_back({m.version, m.name, 5, 1});
      }
    }
    w_->MarkApplied(r.steps.size());
    return r;
  }

  RunReport Rollback(Database* db, const std::string& to_version, const RunContext& ctx) override {
    ++w_->rollbacks;
    if (w_->during_rollback) w_->during_rollback(db, ctx);
    w_->rollback_to.push_back(to_version);
    if (w_->journal) w_->journal->push_back("rollback:" + to_version);
    if (!w_->rollback_script.empty()) {
      RunReport r = w_->rollback_script.front();
      w_->rollback_script.pop_front();
      return r;
    }
    RunReport r;
    while (!w_->applied.empty() && w_->applied.back().version > to_version) {
      const auto& a = w_->applied.back();
      r.steps.push_back({a.version, a.name, 3, 1});
      PendingMigration m;
      m.version = a.version;
      m.name = a.name;
      m.checksum = a.checksum;
      w_->pending.insert(w_->pending.begin(), m);
      w_->applied.pop_back();
    }
    return r;
  }

 private:
  FakeEngineWorld* w_;
};

}  // namespace su::testing
