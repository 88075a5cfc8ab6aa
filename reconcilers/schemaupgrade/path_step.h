// Upgrade paths in the reconciler (docs/upgrade-paths.md): which spec.upgradePath release a pass
// works towards under policy.stepThrough, the spec of that step, and the engine wrapper that keeps
// a controller folder's later migrations pending until their release's step.
//
// Crash safety: the step is chosen from the world, not from memory: the tag the workload declares
// (a step's bump is its last change), plus status.upgradePath.step for the one case the world
// cannot tell (bumped to the step's release but not verified yet: the same step again, which
// migrates nothing, bumps nothing and verifies). Migrations are recorded by the engine's history,
// so a repeated step applies none twice.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/spec.h"
#include "api/status.h"
#include "api/upgrade_path.h"
#include "reconcilers/engines/engine.h"

namespace su {

struct PathStepChoice {
  bool stepping = false;           // this pass walks to `step`, an intermediate release
  UpgradePathEntry step;           // the release to migrate, bump and verify now
  std::string final_target;        // spec.targetVersion
  std::string running;             // the release the workload declares now ("" when unknown)
  std::vector<std::string> after;  // the releases left after `step`, then the target
};

// The image tag the workload declares (the running release); "" when there is none.
std::string RunningRelease(const std::string& declared_image);

// The path release of su between the running one and the target to take now (stepping set), or
// none (no stepThrough, no path, nothing skipped: the pass goes to the target). `st`: the stored
// status of this spec (null when none); `spec_token`: SpecToken(su), to tell it is this spec's.
PathStepChoice ChoosePathStep(const SchemaUpgrade& su, const std::string& declared_image, const ResourceStatus* st,
                              const std::string& spec_token);

// image with its tag replaced by `tag` (registry and path kept, a digest dropped); "" for "".
std::string RetagImage(const std::string& image, const std::string& tag);

// su aimed at `step`: targetVersion the step's release, spec.image (when set) retagged to it. The
// spec hash is kept: status, approvals and the audit log stay this spec's.
SchemaUpgrade StepSpec(const SchemaUpgrade& su, const UpgradePathEntry& step);

// An engine whose pending list stops at up_to (RunContext::up_to): Observe() leaves out the newer
// migrations, Apply() runs with ctx.up_to set. up_to "": inner itself.
std::unique_ptr<Engine> CapPendingAt(std::unique_ptr<Engine> inner, const std::string& up_to);

}  // namespace su
