// Plan building and text/markdown rendering (see plan.h).
#include "reconcilers/schemaupgrade/plan.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "reconcilers/base/duration.h"
#include "reconcilers/base/sha256.h"
#include "api/upgrade_path.h"
#include "reconcilers/sqltext/lint_plan.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/schemaupgrade/path_step.h"

namespace su {

bool Plan::HasUnacceptedDrift() const {
  for (const auto& d : state.drift) {
    if (!d.accepted) return true;
  }
  return false;
}

int Plan::LintErrors() const {
  int n = 0;
  for (const auto& f : findings) n += f.severity == LintSeverity::kError;
  return n;
}

bool Plan::DependenciesSatisfied() const {
  for (const auto& d : dependencies) {
    if (!d.satisfied) return false;
  }
  return true;
}

bool PlanHasContractSteps(const Plan& plan) { return HasContractSteps(plan.state.pending); }

std::string TargetImage(const SchemaUpgrade& su, const std::string& declared_image) {
  if (!su.image.empty()) return su.image;
  if (declared_image.empty()) return "";
  // Strip a digest or tag from the last path component only (registry ports contain ':').
  std::string repo = declared_image;
  auto at = repo.find('@');
  if (at != std::string::npos) repo = repo.substr(0, at);
  auto slash = repo.rfind('/');
  auto colon = repo.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) repo = repo.substr(0, colon);
  return repo + ":" + su.target_version;
}

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

// What apply would refuse, from the spec and the observed state alone ("" when nothing).
std::string PlanRefusal(const SchemaUpgrade& su, const Plan& p) {
  if (p.steps.empty()) return "";
  // Every engine applies in version order (drizzle cannot even skip an entry): a contract
  // migration before an expand one would run before the bump, while the old version serves.
  const auto& pending = p.state.pending;
  const size_t expand = ExpandPrefix(pending);
  for (size_t i = expand; i < pending.size(); ++i) {
    if (pending[i].phase != MigrationPhase::kExpand) continue;
    const PendingMigration& c = pending[expand];
    return "contract migration " + c.version + "_" + c.name + " (" + c.file + ") sorts before expand migration " +
           pending[i].version + "_" + pending[i].name + ": expand migrations run before the image bump and contract "
           "migrations after it, in version order, so this order cannot be kept. A contract step left from an earlier "
           "target runs first: set spec.targetVersion back to the version that brought " + c.version +
           " and let its contract phase finish, then raise it; or renumber the files so every contract migration "
           "comes after the expand ones";
  }
  if (p.downgrade && !su.policy.allow_downgrade) {
    return "downgrade refused: the database holds " + std::to_string(p.ahead.size()) +
           " migration(s) newer than anything target " + su.target_version + " knows (" + Join(p.ahead) +
           (p.state.latest_version.empty() ? "; the target has no migrations" : "; its newest is " + p.state.latest_version) +
           "). To go back, roll the schema back first: `schema-upgrade rollback` with the newer version's manifest "
           "(its down migrations), or restore a backup taken before the upgrade; or set spec.policy.allowDowngrade: "
           "true to change only the image and leave the database as it is";
  }
  ImageRef cur = ParseImageRef(p.current_image), tgt = ParseImageRef(p.target_image);
  if (!p.current_image.empty() && !p.target_image.empty() && !cur.digest.empty() && tgt.digest.empty() &&
      !SameImage(p.current_image, p.target_image)) {
    return su.workload.name + "'s image is pinned by digest (" + p.current_image + "); the bump would replace the pin "
           "with the tag " + p.target_image + ". Keep the pin: set spec.image to the pinned reference to run (" +
           (cur.registry.empty() ? "" : cur.registry + "/") + cur.path +
           "@sha256:<digest of " + su.target_version + ">), or remove the pin from the workload";
  }
  if (p.path_skip) {
    std::vector<UpgradePathEntry> skipped;
    for (const auto& v : p.path_skipped) skipped.push_back({v, ""});
    const std::string running = RunningRelease(p.current_image);
    return "upgrade path: " + running + " -> " + su.target_version + " would skip " + Join(p.path_skipped) +
           ", which spec.upgradePath says must not be skipped. Take the path " +
           DescribePath(running, skipped, su.target_version) + ": set spec.targetVersion to " + p.path_skipped.front() +
           " first and move on from there, or set spec.policy.stepThrough: true to walk it (migrate, bump, verify "
           "each release)";
  }
  if (p.rollback_impossible) {
    std::vector<std::string> no_down;
    for (const auto& m : p.state.pending) {
      if (!m.has_down) no_down.push_back(m.version + "_" + m.name);
    }
    return "policy.onFailure rollback could not put the schema back if this upgrade failed: " +
           (su.migrations.engine == "sql" ? "migration(s) " + Join(no_down) + " have no .down.sql file"
                                          : "engine " + su.migrations.engine + " has no down migrations") +
           " and policy.backup.enabled is false. Add the down file(s), or enable backups, or choose another "
           "policy.onFailure";
  }
  return "";
}

}  // namespace

Plan BuildPlan(const SchemaUpgrade& su, EngineState state, const std::string& current_image,
               const std::string& target_image, const std::string& database_identity) {
  Plan p;
  p.database = database_identity;
  p.resource = su.Key();
  p.service = su.service;
  p.engine = su.migrations.engine;
  p.target_version = su.target_version;
  p.db_version = state.current_version;
  p.current_image = current_image;
  p.target_image = target_image;
  p.state = std::move(state);  // by value: a no-op at target holds thousands of applied rows
  // Findings about tables an earlier pending migration creates are dropped (new and empty when
  // the later one runs), unless the table exists now (CREATE TABLE IF NOT EXISTS); the rest are
  // ranked by the live table's rows (lint_plan.h).
  std::set<std::string> created;
  for (auto& m : p.state.pending) {
    DropFindingsOnCreatedTables(m.findings, created);
    RankFindings(m.findings, p.state.table_rows);
    p.findings.insert(p.findings.end(), m.findings.begin(), m.findings.end());
    for (std::string_view s : m.statements) AddCreatedTables(s, created);
    for (const auto& [table, rows] : p.state.table_rows) created.erase(table);
  }
  RankFindings(p.findings, p.state.table_rows);

  if (!p.state.pending.empty()) {
    if (su.policy.backup_enabled) {
      // Kubernetes: where the Job writes (the step text is in the plan hash: an approval covers it).
      const std::string claim = su.policy.backup_pvc_claim.empty()
                                    ? ""
                                    : " (a Job writing to PersistentVolumeClaim " + su.policy.backup_pvc_claim +
                                          (su.policy.backup_pvc_sub_path.empty() ? "" : ", folder " + su.policy.backup_pvc_sub_path) + ")";
      p.steps.push_back({"backup", "Back up the database with pg_dump -Fc" + claim + " before changing anything."});
    }
    // Expand/contract: the migrate step is the expand group only; the contract group is a step
    // of its own after verify. (Plans without contract migrations keep their step text and hash.)
    const size_t expand = ExpandPrefix(p.state.pending);
    const bool phased = expand < p.state.pending.size();
    if (expand > 0) {
      std::string first = p.state.pending.front().version, last = p.state.pending[expand - 1].version;
      p.steps.push_back({"migrate", "Apply " + std::to_string(expand) + " " + su.migrations.engine +
                                        (phased ? " expand" : "") + " migration(s) " + first +
                                        (first == last ? "" : " .. " + last) + " under the migration lock." +
                                        (phased ? " The old version keeps serving." : "")});
    }
  }
  p.ahead = p.state.ahead;
  p.downgrade = !p.state.ahead.empty();
  if (!target_image.empty() && !SameImage(current_image, target_image)) {
    p.steps.push_back({"bump", std::string(p.downgrade ? "DOWNGRADE: change " : "Change ") + su.workload.kind + " " +
                                   su.workload.name + " from " + (current_image.empty() ? "(none)" : current_image) +
                                   " to " + target_image +
                                   (p.downgrade ? ", leaving the database ahead of it (policy.allowDowngrade)." : ".")});
    p.steps.push_back({"verify", "Check that " + su.workload.name + " runs " + target_image + " and stays up."});
  }
  if (HasContractSteps(p.state.pending)) {
    const size_t expand = ExpandPrefix(p.state.pending);
    const std::string first = p.state.pending[expand].version, last = p.state.pending.back().version;
    std::string when = "Once " + (su.workload.kind.empty() ? std::string("the expand migrations ran")
                                                           : su.workload.name + " is verified on " + target_image +
                                                                 " and no instance of the old image remains");
    if (su.policy.contract_after.count() > 0) when += ", after a soak of " + FormatDuration(su.policy.contract_after);
    if (su.policy.contract_approval_required) when += ", and once the contract hash is approved";
    p.steps.push_back({"contract", when + ": apply " + std::to_string(p.state.pending.size() - expand) + " " +
                                       su.migrations.engine + " contract migration(s) " + first +
                                       (first == last ? "" : " .. " + last) + " under the migration lock."});
    std::ostringstream c;
    c << "contract-v1\n" << p.resource << "\n" << p.engine << "\n" << target_image << "\n";
    c << "database " << database_identity << "\n";
    for (size_t i = expand; i < p.state.pending.size(); ++i) {
      const auto& m = p.state.pending[i];
      c << "contract " << m.version << " " << m.checksum << " down=" << m.down_checksum << "\n";
    }
    p.contract_hash = Sha256Hex(c.str()).substr(0, 16);
  }

  for (const auto& e : SkippedReleases(UpgradePathFor(su, ParseImageRef(current_image).path),
                                       RunningRelease(current_image), su.target_version)) {
    p.path_skipped.push_back(e.version);
    p.path.push_back({e.version, RetagImage(p.target_image, e.version), e.migrations_up_to, {}, false});
  }
  if (!p.path.empty()) p.path.push_back({su.target_version, p.target_image, "", {}, false});
  p.path_skip = !p.path_skipped.empty() && !p.steps.empty();
  if (su.policy.on_failure == OnFailure::kRollback && !su.policy.backup_enabled) {
    for (const auto& m : p.state.pending) p.rollback_impossible |= !m.has_down || su.migrations.engine != "sql";
  }
  p.refused = PlanRefusal(su, p);

  // What the hash covers (docs/policies.md, "What the plan hash covers"): everything that decides
  // what this run does and where. v2: v1 hashes left out the database, the down files, the steps
  // and the policies that shape them, so v1 approvals never match a v2 plan.
  using std::chrono::milliseconds;
  const PolicySpec& pol = su.policy;
  std::ostringstream h;
  h << "v2\n" << p.resource << "\n" << p.engine << "\n" << p.target_version << "\n" << target_image << "\n";
  h << "database " << database_identity << "\n";
  h << "at " << p.state.current_version << "\n";
  h << "policy backup=" << pol.backup_enabled << " dir=" << pol.backup_dir
    << " onFailure=" << OnFailureName(pol.on_failure) << " lockTimeout=" << pol.lock_timeout.count()
    << " statementTimeout=" << pol.statement_timeout.count() << " lockWait=" << pol.lock_wait.count()
    << " blockedSessionLimit=" << pol.blocked_session_limit.count() << " verifySettle=" << pol.verify_settle.count()
    << " retries=" << pol.retries.limit << " restoreAllowDataLoss=" << pol.restore_allow_data_loss
    << " allowDowngrade=" << pol.allow_downgrade << "\n";
  // Only when set: the hashes of plans without them stay as they were.
  if (pol.contract_after.count() > 0 || pol.contract_approval_required) {
    h << "contract after=" << pol.contract_after.count() << " approval=" << pol.contract_approval_required << "\n";
  }
  for (const auto& v : pol.accept_drift) h << "acceptDrift " << v << "\n";
  for (const auto& s : p.steps) h << "step " << s.kind << " " << s.description << "\n";
  for (const auto& m : p.state.pending) {
    h << "pending " << m.version << " " << m.checksum << " down=" << m.down_checksum << " notx=" << m.no_transaction
      << (m.phase == MigrationPhase::kContract ? " contract" : "") << "\n";
  }
  for (const auto& d : p.state.drift) h << "drift " << d.version << " " << d.file_checksum << " " << d.accepted << "\n";
  p.hash = Sha256Hex(h.str()).substr(0, 16);
  return p;
}

namespace {

std::string OrPlaceholder(const std::string& s, const std::string& fallback) { return s.empty() ? fallback : s; }

}  // namespace

std::string RenderPlanText(const Plan& p) {
  std::ostringstream o;
  o << "SchemaUpgrade " << p.resource << " (service " << p.service << ", engine " << p.engine << ")\n";
  o << "  database version: " << OrPlaceholder(p.db_version, "(empty)") << "\n";
  o << "  target version:   " << p.target_version << "\n";
  if (!p.target_image.empty() || !p.current_image.empty()) {
    o << "  image:            " << OrPlaceholder(p.current_image, "(none)");
    if (p.target_image != p.current_image) o << " -> " << p.target_image;
    o << "\n";
  }
  if (!p.database.empty()) o << "  database:         " << p.database << "\n";
  o << "  plan hash:        " << p.hash << "\n";
  if (!p.contract_hash.empty()) o << "  contract hash:    " << p.contract_hash << "\n";
  o << "\nApplied: " << p.state.applied.size() << " migration(s)\n";
  o << "Pending: " << p.state.pending.size() << " migration(s)\n";
  const size_t expand = ExpandPrefix(p.state.pending);
  for (size_t i = 0; i < p.state.pending.size(); ++i) {
    const auto& m = p.state.pending[i];
    if (PlanHasContractSteps(p) && i == 0 && expand > 0) o << "  Expand (before the image bump; the old version keeps serving):\n";
    if (PlanHasContractSteps(p) && i == expand) {
      o << "  Contract (after verify, once no instance of the old version remains; contract hash "
        << p.contract_hash << "):\n";
    }
    o << "  + " << m.version << " " << m.name << (m.no_transaction ? "  [no-transaction]" : "");
    if (!m.file.empty()) o << "  (" << m.summary.size() << " statement" << (m.summary.size() == 1 ? "" : "s") << ")";
    o << "\n";
    for (const auto& s : m.summary) o << "      " << s << "\n";
  }
  if (!p.state.drift.empty()) {
    o << "\nDrift: " << p.state.drift.size() << " applied file(s) changed since they ran\n";
    for (const auto& d : p.state.drift) {
      o << "  ! " << d.version << " " << d.name << ": recorded " << d.recorded_checksum.substr(0, 12) << ", file "
        << d.file_checksum.substr(0, 12) << (d.accepted ? "  (accepted by policy.acceptDrift)" : "  (refused: restore the file or list the version in spec.policy.acceptDrift)") << "\n";
    }
  }
  if (!p.state.unknown.empty()) {
    o << "\nApplied in the database but not found in the source: ";
    for (size_t i = 0; i < p.state.unknown.size(); ++i) o << (i ? ", " : "") << p.state.unknown[i];
    o << "\n";
  }
  if (p.downgrade) {
    o << "\nDOWNGRADE: the database is ahead of target " << p.target_version << ": it holds " << p.ahead.size()
      << " migration(s) the target does not know: " << Join(p.ahead) << "\n";
  }
  for (const auto& n : p.state.notes) o << "\nNote: " << n << "\n";
  if (!p.preflight.empty()) {
    o << "\nPre-flight:\n";
    for (const auto& f : p.preflight) o << "  - " << f << "\n";
  }
  if (!p.findings.empty()) {
    o << "\nLint: " << p.findings.size() << " finding(s)\n";
    for (const auto& f : p.findings) {
      o << "  " << f.file << ":" << f.line << ": " << LintSeverityName(f.severity) << " [" << f.rule << "] "
        << f.message;
      if (f.table_rows >= 0) o << " (table " << f.table << ": ~" << f.table_rows << " rows now)";
      o << "\n      fix: " << f.suggestion << "\n";
    }
  }
  if (!p.dependencies.empty()) {
    o << "\nDepends on:\n";
    for (const auto& d : p.dependencies) {
      o << "  " << (d.satisfied ? "ok      " : "waiting ") << d.key;
      if (!d.target.empty()) o << " at " << d.target;
      o << ": " << d.detail << "\n";
    }
  }
  if (p.rehearsal) o << RenderRehearsalText(*p.rehearsal);
  if (!p.refused.empty()) o << "\nREFUSED: apply will change nothing: " << p.refused << "\n";
  o << "\nSteps:\n";
  if (p.steps.empty()) o << "  (none: up to date)\n";
  for (size_t i = 0; i < p.steps.size(); ++i) o << "  " << i + 1 << ". " << p.steps[i].kind << ": " << p.steps[i].description << "\n";
  return o.str();
}

}  // namespace su
