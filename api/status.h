// ResourceStatus: the observed state of one SchemaUpgrade (the `status` of the resource). Written
// by the reconciler after every step so that a reader (CLI `status`, kubectl) sees progress, and
// persisted so a restart knows attempts, previous image and backups. The *truth* about migrations
// and images is always re-observed from the world; status is the record, never the source.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reconcilers/base/clock.h"

namespace su {

// Expand/contract upgrades (docs/expand-contract.md) go Expanding (their expand migrations;
// plans without contract migrations keep Migrating), Bumping, Verifying, Soaking (waiting for
// policy.contract.after), Contracting, Succeeded.
enum class Phase { kPending, kWaiting, kPlanning, kBackingUp, kMigrating, kBumping, kVerifying, kSucceeded, kFailed,
                   kExpanding, kSoaking, kContracting };
// Every phase, in the order an upgrade passes them (for metrics and schema checks).
inline constexpr Phase kAllPhases[] = {Phase::kPending,   Phase::kWaiting,  Phase::kPlanning,  Phase::kBackingUp,
                                       Phase::kMigrating, Phase::kExpanding, Phase::kBumping,  Phase::kVerifying,
                                       Phase::kSoaking,   Phase::kContracting, Phase::kSucceeded, Phase::kFailed};
const char* PhaseName(Phase p);
bool ParsePhase(const std::string& s, Phase* out);

// kstatus-style condition (Ready, Reconciling, Stalled).
struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;  // CamelCase, machine-matchable
  std::string message; // a sentence a person can act on
  long long observed_generation = 0;
  std::string last_transition_time;
  bool operator==(const Condition&) const = default;
};

struct AppliedRecord {
  std::string version;
  std::string name;
  long long duration_ms = 0;
  std::string applied_at;
  bool operator==(const AppliedRecord&) const = default;
};

struct BackupRecord {
  std::string path;
  long long size_bytes = 0;
  std::string taken_at;
  std::string plan_hash;  // the plan this backup was taken for
  std::string snapshot;   // pg_current_snapshot() just before the dump: what "written since" means
  long long rows_written_since = -1;  // set when restoreBackup checked: rows inserted/updated since
                                      // the backup by others (-1: not checked)
  // The database version the backup holds ("0": an empty database; "": not recorded, a status
  // written before this field): `schema-upgrade rollback --to` restores it only to that version.
  std::string database_version;
  bool operator==(const BackupRecord&) const = default;
};

struct BlockedSession {
  int pid = 0;
  std::string application_name;
  long long waiting_ms = 0;
  std::string query;
  bool operator==(const BlockedSession&) const = default;
};

// A backfill migration under way (sql engine, docs/backfill.md): set while the migrate step runs
// one, refreshed at most every 10 s, cleared when the step ends.
struct BackfillProgress {
  std::string version;
  long long rows_done = 0;        // over every run of this backfill
  long long rows_total = 0;       // the table's estimated rows
  long long rows_per_second = 0;  // this run's rate
  long long eta_seconds = 0;      // 0 when unknown
  std::string updated_at;
  bool operator==(const BackfillProgress&) const = default;
};

// onFailure rollback under way (docs/policies.md "A rollback that was interrupted"): written
// through the status store before the combined rollback changes anything, updated after each of
// its steps, cleared once the resource is Failed with the rollback's status.failureAction. A pass
// that finds it for the same spec resumes the rollback instead of planning the upgrade again; the
// audit log rows after audit_from say which steps committed (a kill loses status writes, not
// committed rows). A new spec (target, or olympus.io/retry) starts without it.
struct UndoProgress {
  std::string policy;          // the onFailure policy being carried out: "rollback"
  std::string plan_hash;       // the failed attempt's plan
  std::string target_version;  // its target (spec.targetVersion)
  long long generation = 0;    // the spec generation it failed under
  std::string start_version;   // the pre-upgrade database version (the schema step's goal; "": none applied)
  std::string start_image;     // the pre-upgrade image (the image step's goal; "": not bumped)
  std::string from_image;      // the image the workload declared when the rollback began
  bool image_bumped = false;   // from_image was not start_image: the image step has work to do
  std::string failure;         // the failure being undone, as status.lastError shows it
  std::string failure_code;    // its error code (CodeName), for the exit code of a resumed apply
  std::string reason;          // its condition reason (MigrationFailed, VerifyFailed, ...)
  int attempts = 0;            // status.attempts before the failure was counted
  // The last id of the resource's rows in the audit log (public.schema_upgrade_log, and the
  // engine's own when migrations.schema moves it) when the rollback began: this rollback's rows
  // come after. -1: could not be read (a resumed pass then says it cannot tell, and stops).
  long long audit_from = -1;
  long long engine_audit_from = -1;
  std::string started_at;
  // Steps finished, in order: "image", then "schema". image_result / schema_result: each step's
  // sentence for status.failureAction; schema_note: why the schema step went to the backup (set
  // before the restore starts).
  std::vector<std::string> done;
  std::string image_result;
  std::string schema_result;
  std::string schema_note;
  bool operator==(const UndoProgress&) const = default;
};

struct ResourceStatus {
  std::string resource;            // namespace/name
  long long observed_generation = 0;
  std::string spec_hash;           // spec the status was computed for
  Phase phase = Phase::kPending;
  std::string message;             // what is happening, one sentence
  std::string current_version;     // highest applied migration, as last observed
  std::string target_version;
  std::string image;               // declared image, as last observed
  // When current_version and image were last read from the world by a pass that wrote status
  // (RFC 3339). A pass that finds everything as status already says writes nothing, so this does
  // not move while nothing changes: the values have held since at least then. While the database
  // or the workload cannot be reached they keep their last observed values (docs/status.md).
  std::string observed_at;
  std::string previous_image;      // image before our bump (for rollbackImage)
  // GitOps bumped first: the workload's rollout setting before we held it (a WorkloadRuntime
  // RolloutSetting token, e.g. "paused=false"), recorded before the hold and cleared once it is
  // given back. Non-empty: we hold the rollout, and a restarted controller must release it.
  std::string rollout_hold;
  std::string plan_hash;
  std::vector<std::string> pending;  // pending versions
  std::vector<AppliedRecord> applied;  // applied by us for this spec, oldest first; the last
                                       // kMaxAppliedInStatus only (the audit log has them all)
  int applied_total = 0;               // how many this spec applied in all
  int attempts = 0;
  std::string last_error;
  std::string next_retry_at;
  std::string failure_action;      // what onFailure did, if anything
  std::string start_version;       // database version before this spec's first migration (runDown target)
  // The last rehearsal on a copy (policy.rehearse): "<plan hash>: <RehearsalSummary>".
  std::string rehearsal;
  std::string approved_plan;       // approved plan hash this spec's work started under (survives resumes)
  // Upgrade paths (policy.stepThrough, docs/upgrade-paths.md): the release of the path this spec's
  // work is at now: a spec.upgradePath release, or the target once a release of the path was
  // reached ("" : no path, or not on it yet). Named as soon as a pass plans the step, so also while
  // it waits at a gate (approval: the release the approval message names). path_step_started_at:
  // when that step's work began, past its gates (RFC 3339; "" while it waits): the step's audit
  // row `path-step started` is written once, then. path_done: the releases reached and verified
  // so far, in order. start_image: the image before this spec's first bump (onFailure rollback
  // puts it back; previous_image is the one before the latest bump).
  std::string path_step;
  std::string path_step_started_at;
  std::vector<std::string> path_done;
  std::string start_image;
  // Expand/contract: when the contract migrations may run (RFC 3339): the verified bump plus
  // policy.contract.after. Set when Verify succeeds with contract migrations pending; "" before.
  std::string contract_after;
  std::optional<BackupRecord> backup;
  std::optional<UndoProgress> undo;  // onFailure rollback under way (see UndoProgress)
  std::vector<BlockedSession> blocked_sessions;
  std::optional<BackfillProgress> backfill;
  std::vector<Condition> conditions;
  // When the content last changed (the last write). Not rewritten by a pass that changes nothing.
  std::string updated_at;
  bool operator==(const ResourceStatus&) const = default;
};

// Equal but for the timestamps a pass sets every time it looks (updated_at, observed_at) and the
// resource name (the key's; the Kubernetes store does not keep it): a
// status that differs from the stored one only there is not written again.
bool SameStatusContent(const ResourceStatus& a, const ResourceStatus& b);

inline constexpr size_t kMaxAppliedInStatus = 100;

// Sets (or adds) condition `type`. last_transition_time changes only when status changes.
void SetCondition(ResourceStatus* s, const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message, long long generation, Clock::TimePoint now);
const Condition* FindCondition(const ResourceStatus& s, const std::string& type);

// JSON: reconcilers/schemaupgrade/status_json.h (cpprestsdk stays out of api/).
// A human summary for `schema-upgrade status`.
std::string RenderStatusText(const ResourceStatus& s);

}  // namespace su
