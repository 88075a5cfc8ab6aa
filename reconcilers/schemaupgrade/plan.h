// Plan: what one SchemaUpgrade would do next, built from the spec and the observed world (engine
// state, declared image, database identity). Pure: no I/O. The plan hash identifies the *content*
// of the change: the database it is for (system identifier and name, current version), the pending
// migrations' up and down file checksums, the steps (backup, migrate, bump, verify, images) and the
// policies that shape them (onFailure, timeouts, backup), so an approval given for one plan does
// not carry over to a changed one or to another database. It is a content hash, not a signature.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/spec.h"
#include "reconcilers/engines/engine.h"
#include "reconcilers/rehearsal/rehearsal.h"

namespace su {

struct PlanStep {
  std::string kind;         // backup | migrate | bump | verify
  std::string description;  // a sentence
};

// One spec.dependsOn entry as this pass found it (dependencies.h).
struct DependencyState {
  std::string key;          // "namespace/name" of the SchemaUpgrade waited for
  bool exists = false;      // the controller sees it (and it passes validation)
  std::string target;       // its spec.targetVersion ("" when it does not exist)
  bool satisfied = false;   // Ready at that target
  std::string detail;       // where it is, e.g. "Ready at v1.2.0", "Migrating, at v1.1.0"
};

struct Plan {
  std::string resource;          // namespace/name
  std::string service;
  std::string engine;
  std::string target_version;    // spec.targetVersion
  std::string db_version;        // highest applied migration
  std::string current_image;     // declared now (empty: no workload)
  std::string target_image;      // after the bump (empty: no workload)
  EngineState state;
  std::vector<LintFinding> findings;  // of pending migrations
  std::vector<PlanStep> steps;
  std::string database;          // "<system identifier>/<database name>" the plan is for (may be empty)
  // Pre-flight (checked before the first change; see preflight.cc):
  std::vector<std::string> ahead;      // applied versions newer than anything the target knows
  bool downgrade = false;              // the database is ahead of the target
  std::vector<std::string> preflight;  // sentences: how the bump edits the workload, the image
  std::string refused;                 // non-empty: apply refuses before changing anything, because
  // Upgrade paths (docs/upgrade-paths.md): the spec.upgradePath releases between the running one
  // and the target (not hashed: the steps and images are). Which refusal `refused` is:
  std::vector<std::string> path_skipped;
  bool path_skip = false;              // the jump passes path_skipped without policy.stepThrough
  // The path as data for `plan -o json|markdown` (not hashed): under policy.stepThrough the step
  // this plan is for (current, with its pending migrations) and the releases after it; for a
  // refused jump the path to take (the skipped releases, then the target).
  struct PathStep {
    std::string version;
    std::string image;                    // what the workload runs at that release ("" unknown)
    std::string migrations_up_to;         // spec.upgradePath's migrationsUpTo ("" : the rest)
    std::vector<std::string> migrations;  // current step only: "<version> <name>" pending
    bool current = false;
  };
  std::vector<PathStep> path;
  bool rollback_impossible = false;    // onFailure rollback could undo the schema neither way
  std::string hash;              // 16 hex chars
  // Expand/contract (docs/expand-contract.md): the hash of the contract migrations alone (16 hex
  // chars; "" when the plan has none), what policy.contract.approvalRequired approves. It covers
  // the database, the target image and each contract migration's up and down checksums, not the
  // current version: the hash `plan` shows before the expand phase is still valid after it.
  std::string contract_hash;
  // spec.dependsOn as found by this pass (not hashed: an approval does not depend on them).
  std::vector<DependencyState> dependencies;
  // The rehearsal on a copy (`plan --rehearse`, policy.rehearse), when one ran this pass (not hashed).
  std::optional<RehearsalReport> rehearsal;
  bool UpToDate() const { return steps.empty(); }
  bool HasUnacceptedDrift() const;
  int LintErrors() const;
  bool DependenciesSatisfied() const;
};

// True when the plan's pending migrations include contract migrations: an expand/contract
// upgrade, whose failures before the contract phase restore the image and leave the schema
// (docs/expand-contract.md). For onFailure policies that would undo migrations (runDown,
// restoreBackup, a combined rollback): with this true they must not undo the expand steps.
bool PlanHasContractSteps(const Plan& plan);

// The image to run: spec.image, else the declared image's repository with tag targetVersion.
// Empty when there is no workload and no spec.image.
std::string TargetImage(const SchemaUpgrade& su, const std::string& declared_image);

// database_identity: see DatabaseIdentity() in pass_steps.cc; part of the hash.
// Sets the downgrade fields and refuses what can be refused from the spec and the observed state
// alone: a downgrade without policy.allowDowngrade, a digest pin the target would drop.
Plan BuildPlan(const SchemaUpgrade& su, EngineState state, const std::string& current_image,
               const std::string& target_image, const std::string& database_identity = "");

// Renderings for `schema-upgrade plan --output text|markdown|json`.
std::string RenderPlanText(const Plan& plan);
std::string RenderPlanMarkdown(const Plan& plan);  // plan_markdown.cc: RenderPlanComment with no options
std::string RenderPlanJson(const Plan& plan);  // plan_json.cc (cpprestsdk)
// A JSON array of lint findings, the same objects as in a plan's "findings" (for `lint -o json`).
std::string RenderFindingsJson(const std::vector<LintFinding>& findings);

}  // namespace su
