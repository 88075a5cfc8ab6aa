// Upgrade paths in the reconciler: the step a pass takes and the capped engine (see path_step.h).
#include "reconcilers/schemaupgrade/path_step.h"

#include <algorithm>

#include "reconcilers/runtimes/image_ref.h"

namespace su {
namespace {

class CappedEngine : public Engine {
 public:
  CappedEngine(std::unique_ptr<Engine> inner, std::string up_to) : inner_(std::move(inner)), up_to_(std::move(up_to)) {}
  std::string name() const override { return inner_->name(); }
  Result<EngineState> Observe(Database* db) override {
    SU_ASSIGN_OR_RETURN(EngineState st, inner_->Observe(db));
    RunContext cap;
    cap.up_to = up_to_;
    std::vector<PendingMigration> kept;
    for (auto& m : st.pending) {
      if (!BeyondUpTo(m.version, cap)) kept.push_back(std::move(m));
    }
    st.pending = std::move(kept);
    std::vector<PendingBackfill> backfills;  // a later step's backfill is not this step's
    std::vector<std::string> later_notes;   // nor its note
    for (auto& b : st.backfills) {
      if (!BeyondUpTo(b.version, cap)) {
        backfills.push_back(std::move(b));
      } else if (!b.note.empty()) {
        later_notes.push_back(b.note);
      }
    }
    st.backfills = std::move(backfills);
    std::erase_if(st.notes, [&](const std::string& n) {
      return std::find(later_notes.begin(), later_notes.end(), n) != later_notes.end();
    });
    return st;
  }
  std::string HistoryMarkSql() const override { return inner_->HistoryMarkSql(); }
  Result<std::string> SourceStamp() override {
    SU_ASSIGN_OR_RETURN(std::string s, inner_->SourceStamp());
    return s.empty() ? s : s + "|up_to=" + up_to_;
  }
  RunReport Apply(Database* db, const RunContext& ctx) override {
    RunContext c = ctx;
    c.up_to = up_to_;
    return inner_->Apply(db, c);
  }
  RunReport RollbackVersions(Database* db, const std::vector<std::string>& versions, const RunContext& ctx) override {
    return inner_->RollbackVersions(db, versions, ctx);
  }
  RunReport Rollback(Database* db, const std::string& to_version, const RunContext& ctx) override {
    return inner_->Rollback(db, to_version, ctx);
  }

 private:
  std::unique_ptr<Engine> inner_;
  std::string up_to_;
};

}  // namespace

std::string RunningRelease(const std::string& declared_image) {
  if (declared_image.empty()) return "";
  return ImageTag(declared_image);
}

std::string RetagImage(const std::string& image, const std::string& tag) {
  if (image.empty()) return "";
  ImageRef r = ParseImageRef(image);
  return (r.registry.empty() ? "" : r.registry + "/") + r.path + ":" + tag;
}

PathStepChoice ChoosePathStep(const SchemaUpgrade& su, const std::string& declared_image, const ResourceStatus* st,
                              const std::string& spec_token) {
  PathStepChoice c;
  c.final_target = su.target_version;
  c.running = RunningRelease(declared_image);
  if (!su.policy.step_through || su.upgrade_path.empty()) return c;
  const std::vector<UpgradePathEntry> path = UpgradePathFor(su, ParseImageRef(declared_image).path);
  std::vector<UpgradePathEntry> skipped = SkippedReleases(path, c.running, su.target_version);
  // Bumped to a step's release but not verified yet (killed in between): that step again.
  if (st && st->spec_hash == spec_token && !st->path_step.empty() && !c.running.empty() &&
      CompareReleaseVersions(c.running, st->path_step) == 0 &&
      CompareReleaseVersions(st->path_step, su.target_version) < 0) {
    bool done = false;
    for (const auto& d : st->path_done) done |= d == st->path_step;
    if (!done) {
      for (const auto& e : path) {
        if (e.version == st->path_step) skipped.insert(skipped.begin(), e);
      }
    }
  }
  if (skipped.empty()) return c;
  c.stepping = true;
  c.step = skipped.front();
  for (size_t i = 1; i < skipped.size(); ++i) c.after.push_back(skipped[i].version);
  c.after.push_back(su.target_version);
  return c;
}

SchemaUpgrade StepSpec(const SchemaUpgrade& su, const UpgradePathEntry& step) {
  SchemaUpgrade s = su;
  s.target_version = step.version;
  if (!su.image.empty()) {
    ImageRef r = ParseImageRef(su.image);
    s.image = (r.registry.empty() ? "" : r.registry + "/") + r.path + ":" + step.version;
  }
  return s;
}

std::unique_ptr<Engine> CapPendingAt(std::unique_ptr<Engine> inner, const std::string& up_to) {
  if (up_to.empty()) return inner;
  return std::make_unique<CappedEngine>(std::move(inner), up_to);
}

}  // namespace su
