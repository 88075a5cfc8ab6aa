// Upgrade paths (spec.upgradePath, policy.stepThrough): which listed releases lie between the
// running version and the target, in the order an upgrade must pass them. Pure; no I/O. The
// reconciler (reconcilers/schemaupgrade/path_step.h) turns the next one into the pass's step.
#pragma once

#include <string>
#include <vector>

#include "api/spec.h"

namespace su {

// Orders release versions (image tags) and migration versions: an optional leading 'v', then runs
// of digits compared as numbers (any length) and other runs as strings; a pre-release suffix
// ("-rc.1") sorts before its release. <0, 0, >0 like strcmp.
int CompareReleaseVersions(const std::string& a, const std::string& b);

// Per-engine knowledge of releases that must not be skipped, keyed by engine and image repository
// (e.g. "ory", "oryd/kratos"). A hook with no entries today: only facts a vendor states belong
// here (docs/upgrade-paths.md). Merged with spec.upgradePath by UpgradePathFor.
std::vector<UpgradePathEntry> KnownUpgradePath(const std::string& engine, const std::string& repository);

// spec.upgradePath merged with KnownUpgradePath (the spec's entry wins for the same version),
// ascending.
std::vector<UpgradePathEntry> UpgradePathFor(const SchemaUpgrade& su, const std::string& repository);

// The releases of `path` strictly between `running` (the tag the workload runs now) and `target`,
// ascending: the ones an upgrade from running to target would jump over. Empty when running is
// empty or no release (a first install, "latest": nothing to compare) or not older than target.
std::vector<UpgradePathEntry> SkippedReleases(const std::vector<UpgradePathEntry>& path, const std::string& running,
                                              const std::string& target);

// "v1.0.0 -> v1.1.0 -> v1.2.0": the path to take, for messages.
std::string DescribePath(const std::string& running, const std::vector<UpgradePathEntry>& skipped,
                         const std::string& target);

}  // namespace su
