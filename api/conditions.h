// Condition types, condition statuses, event types and every reason the reconciler writes into
// status conditions and events, as named constants (header only, no dependencies). Reasons are
// CamelCase words a machine can match (kstatus, Argo CD, alerts); they are part of the resource's
// API: renaming one breaks the users who match on it. The steps in reconcilers/schemaupgrade/
// use only these constants (tests/unit/reconciler/reason_literals_test.cc checks it).
#pragma once

namespace su {

// kstatus condition types (Flux and `kubectl wait` read these).
namespace condition {
inline constexpr const char kReady[] = "Ready";
inline constexpr const char kReconciling[] = "Reconciling";
inline constexpr const char kStalled[] = "Stalled";
}  // namespace condition

// Condition.status values.
namespace condition_status {
inline constexpr const char kTrue[] = "True";
inline constexpr const char kFalse[] = "False";
inline constexpr const char kUnknown[] = "Unknown";
}  // namespace condition_status

// Event types (Kubernetes Event.type).
namespace event_type {
inline constexpr const char kNormal[] = "Normal";
inline constexpr const char kWarning[] = "Warning";
}  // namespace event_type

// Reasons of conditions and events. While a step runs, the Ready and Reconciling conditions carry
// the phase name (Planning, BackingUp, Migrating, Bumping, Verifying: PhaseName()) as reason.
namespace reasons {
// Converged, or progress worth an event.
inline constexpr const char kSucceeded[] = "Succeeded";
inline constexpr const char kBackedUp[] = "BackedUp";
inline constexpr const char kMigrated[] = "Migrated";
inline constexpr const char kBumped[] = "Bumped";
inline constexpr const char kImagePulled[] = "ImagePulled";
// GitOps bumped first: the workload's rollout is held while migrations run, then resumed.
inline constexpr const char kRolloutHeld[] = "RolloutHeld";
inline constexpr const char kRolloutResumed[] = "RolloutResumed";

// Waiting for something outside (not an error): Ready=False, Stalled=False.
inline constexpr const char kDryRun[] = "DryRun";
inline constexpr const char kAwaitingApproval[] = "AwaitingApproval";
inline constexpr const char kOutsideMaintenanceWindow[] = "OutsideMaintenanceWindow";
inline constexpr const char kPlanChanged[] = "PlanChanged";
// spec.dependsOn names a SchemaUpgrade that is not Ready at its current target yet (or does not
// exist): looked at again shortly.
inline constexpr const char kWaitingForDependency[] = "WaitingForDependency";
// A rollout that runs on its own (Kubernetes) is still progressing: looked at again shortly.
inline constexpr const char kRolloutInProgress[] = "RolloutInProgress";
// Expand/contract (docs/expand-contract.md): the contract migrations wait for policy.contract.after
// (phase Soaking, requeued when it ends), for their own approval, or for the last instance of the
// old version to go.
inline constexpr const char kContractSoaking[] = "ContractSoaking";
inline constexpr const char kAwaitingContractApproval[] = "AwaitingContractApproval";
inline constexpr const char kOldVersionRunning[] = "OldVersionRunning";
// Event: the contract migrations ran.
inline constexpr const char kContracted[] = "Contracted";

// Transient: retried with backoff; past retries.limit Stalled=True with kRetriesExhausted.
inline constexpr const char kRetriesExhausted[] = "RetriesExhausted";
inline constexpr const char kInterrupted[] = "Interrupted";  // stopped by shutdown; resumes on start
inline constexpr const char kCancelled[] = "Cancelled";
inline constexpr const char kDatabaseUnavailable[] = "DatabaseUnavailable";
inline constexpr const char kWorkloadUnavailable[] = "WorkloadUnavailable";
inline constexpr const char kWorkloadChanged[] = "WorkloadChanged";
inline constexpr const char kObserveFailed[] = "ObserveFailed";
inline constexpr const char kImageUnavailable[] = "ImageUnavailable";
inline constexpr const char kLockBusy[] = "LockBusy";
inline constexpr const char kLockWatchUnavailable[] = "LockWatchUnavailable";
inline constexpr const char kBlockingTraffic[] = "BlockingTraffic";
inline constexpr const char kMigrationRetryable[] = "MigrationRetryable";
inline constexpr const char kBumpRetryable[] = "BumpRetryable";
inline constexpr const char kVerifyUnavailable[] = "VerifyUnavailable";

// Permanent: Failed, Stalled=True until the spec changes or someone asks again.
inline constexpr const char kStatusUnreadable[] = "StatusUnreadable";
inline constexpr const char kInvalidDatabaseSource[] = "InvalidDatabaseSource";
inline constexpr const char kInvalidMigrations[] = "InvalidMigrations";
inline constexpr const char kInvalidWindow[] = "InvalidWindow";
inline constexpr const char kWorkloadInvalid[] = "WorkloadInvalid";
inline constexpr const char kChecksumDrift[] = "ChecksumDrift";
inline constexpr const char kLintErrors[] = "LintErrors";
inline constexpr const char kDowngradeRefused[] = "DowngradeRefused";
inline constexpr const char kDigestPinned[] = "DigestPinned";
inline constexpr const char kBumpRefused[] = "BumpRefused";
inline constexpr const char kBackupFailed[] = "BackupFailed";
inline constexpr const char kMigrationFailed[] = "MigrationFailed";
inline constexpr const char kBumpFailed[] = "BumpFailed";
inline constexpr const char kRolloutFailed[] = "RolloutFailed";  // also transient (retried) when the runtime says so
inline constexpr const char kVerifyFailed[] = "VerifyFailed";
// The rehearsal on a copy (policy.rehearse) failed: the real database was not touched.
inline constexpr const char kRehearsalFailed[] = "RehearsalFailed";

// What policy.onFailure did, and warnings that never stop an upgrade (events only).
inline constexpr const char kImageRolledBack[] = "ImageRolledBack";
inline constexpr const char kBackupRestored[] = "BackupRestored";
inline constexpr const char kRestoreRefused[] = "RestoreRefused";
inline constexpr const char kBackupRetention[] = "BackupRetention";
// Set before the first pass ran (the status seeded on the first reconcile).
inline constexpr const char kPending[] = "Pending";
// The object passed the CRD schema but not our validation: nothing runs until it is fixed.
inline constexpr const char kInvalidSpec[] = "InvalidSpec";
// spec.dependsOn closes a cycle among the SchemaUpgrades the controller sees (every member is
// told, naming the cycle); looked at again on every pass, since another member's edit breaks it.
inline constexpr const char kDependencyCycle[] = "DependencyCycle";
// Upgrade paths (docs/upgrade-paths.md): the jump from the running version to the target passes
// a spec.upgradePath release and policy.stepThrough is not set (refused before any change, naming
// the path to take); a release of the path was reached and verified under stepThrough (event);
// policy.onFailure rollback could undo neither by down files nor by a backup (refused up front).
inline constexpr const char kUpgradePathRequired[] = "UpgradePathRequired";
inline constexpr const char kSteppedThrough[] = "SteppedThrough";
inline constexpr const char kRollbackImpossible[] = "RollbackImpossible";
inline constexpr const char kSchemaRolledBack[] = "SchemaRolledBack";
// An interrupted onFailure rollback (status.undo) cannot be resumed as recorded: the workload
// declares another image, or the database is not at the pre-upgrade version although the audit
// log says the schema step committed, or the log cannot tell. Nothing more is undone; says what.
inline constexpr const char kRollbackStateMismatch[] = "RollbackStateMismatch";
// A contract migration sorts before an expand migration of the same pending set (refused before
// anything runs; the message says how to get out).
inline constexpr const char kContractOrder[] = "ContractOrder";

// Every reason above, for tests and documentation.
inline constexpr const char* kAll[] = {
    kSucceeded, kBackedUp, kMigrated, kBumped, kImagePulled, kDryRun, kAwaitingApproval,
    kOutsideMaintenanceWindow, kPlanChanged, kRetriesExhausted, kInterrupted, kCancelled,
    kDatabaseUnavailable, kWorkloadUnavailable, kWorkloadChanged, kObserveFailed, kImageUnavailable,
    kLockBusy, kLockWatchUnavailable, kBlockingTraffic, kMigrationRetryable, kBumpRetryable,
    kVerifyUnavailable, kStatusUnreadable, kInvalidDatabaseSource, kInvalidMigrations, kInvalidWindow,
    kWorkloadInvalid, kChecksumDrift, kLintErrors, kDowngradeRefused, kDigestPinned, kBumpRefused,
    kBackupFailed, kMigrationFailed, kBumpFailed, kRolloutFailed, kVerifyFailed, kImageRolledBack,
    kBackupRestored, kRestoreRefused, kBackupRetention, kPending, kInvalidSpec, kRolloutHeld, kRolloutResumed,
    kRolloutInProgress, kWaitingForDependency, kDependencyCycle, kUpgradePathRequired, kSteppedThrough,
    kRollbackImpossible, kSchemaRolledBack, kRehearsalFailed, kContractSoaking, kAwaitingContractApproval,
    kOldVersionRunning, kContracted, kContractOrder, kRollbackStateMismatch};
}  // namespace reasons

}  // namespace su
