// SchemaUpgrade: the plain-struct form of the resource, as the reconciler sees it. No YAML or
// JSON types here: parsers (manifest.h for YAML files; later the Kubernetes adapter) fill these.
// Adding a field to any struct here: add it to VisitSpec in api/spec_pack.cc too (the folder
// source holds specs packed; a field left out there is lost between the manifest and the pass).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace su {

inline constexpr const char* kApiVersion = "olympus.io/v1alpha1";
inline constexpr const char* kKind = "SchemaUpgrade";

// Where the DSN comes from. The DSN itself is never stored in a spec (nor printed).
struct DsnSource {
  enum class Kind { kEnv, kFile, kSecretKeyRef };
  Kind kind = Kind::kEnv;
  std::string env;          // kEnv: environment variable name
  std::string file;         // kFile: path (resolved against the manifest's folder)
  std::string secret_name;  // kSecretKeyRef
  std::string secret_key;
  bool operator==(const DsnSource&) const = default;
};

// kind empty: the resource names no workload (plan/apply migrations only, no image bump).
struct WorkloadRef {
  std::string kind;          // Deployment | StatefulSet | ComposeService | "" (none)
  std::string name;          // workload name, or compose service / container name
  std::string container;     // Kubernetes: container in the pod template (default: the first)
  std::string compose_file;  // ComposeService: path (resolved against the manifest's folder)
  std::string service;       // ComposeService: the service key in the compose file (default: name)
  // Deployment / StatefulSet: the namespace (the SchemaUpgrade's own; set by ApplyCliDefaults, not
  // part of the spec or its hash).
  std::string ns;
  bool operator==(const WorkloadRef&) const = default;
};

inline constexpr const char* kMigrationSourceController = "controller";
inline constexpr const char* kMigrationSourceImage = "image";
inline constexpr const char* kMigrationSourceConfigMap = "configMap";

struct MigrationsSpec {
  std::string engine;                        // ory | drizzle | sql
  // ory: argv passed to the target image's entrypoint; default [migrate, sql, up, -e, --yes].
  std::vector<std::string> command;
  // ory: status argv; empty (the default): the ory engine derives it from command
  // (DefaultOryStatusCommand: "up" -> "status", keeping only -e and --config).
  std::vector<std::string> status_command;
  // drizzle / sql: where the files come from (kMigrationSource*). controller: path is a folder on
  // the controller's file system (resolved against the manifest's folder); image: path is an
  // absolute folder inside the target image; configMap: the data keys of config_map_name.
  std::string source = "controller";
  std::string path;                          // drizzle / sql: folder (controller / image source)
  std::string config_map_name;               // source configMap: configMapRef.name (same namespace)
  std::vector<std::string> config_map_keys;  // configMapRef.keys: only these keys (empty: all)
  std::string schema;                        // sql: schema of the history tables (default: public);
                                             // drizzle: migrations schema (empty: drizzle's default)
  bool operator==(const MigrationsSpec&) const = default;
};

// spec.dependsOn[i]: another SchemaUpgrade of the same namespace that must be Ready at its own
// current target before this one starts work (reconcilers/schemaupgrade/dependencies.h).
struct DependencyRef {
  std::string name;  // metadata.name of the other SchemaUpgrade (a DNS-1123 label)
  bool operator==(const DependencyRef&) const = default;
};

// spec.upgradePath[i]: a release an upgrade must not jump over (docs/upgrade-paths.md).
struct UpgradePathEntry {
  std::string version;  // an image tag, e.g. v1.1.0
  // sql / drizzle with migrations.source controller: the last migration version this release
  // needs (policy.stepThrough applies the folder's migrations up to it, and no further, before
  // bumping to this release). "": not stated (image and ory sources: the release's image carries
  // its own migrations).
  std::string migrations_up_to;
  bool operator==(const UpgradePathEntry&) const = default;
};

struct MaintenanceWindow {
  std::string start;      // "HH:MM"
  std::string end;        // "HH:MM"; end < start wraps past midnight
  std::string time_zone;  // IANA name, default UTC
  std::vector<std::string> days;  // optional: Mon..Sun; empty = every day
  bool operator==(const MaintenanceWindow&) const = default;
};

struct RetryPolicy {
  int limit = 10;
  std::chrono::milliseconds initial_backoff{5000};
  std::chrono::milliseconds max_backoff{600000};
  bool operator==(const RetryPolicy&) const = default;
};

// kRollback: the image back first (as kRollbackImage), then the schema back to the pre-upgrade
// version (down migrations when every applied one has a down file, else the pre-upgrade backup).
enum class OnFailure { kHalt, kRollbackImage, kRestoreBackup, kRunDown, kRollback };

struct PolicySpec {
  bool dry_run = false;
  bool approval_required = false;
  std::string approved_plan_hash;          // policy.approval.planHash (or annotation)
  bool backup_enabled = false;
  std::string backup_dir;                  // default: <state dir>/backups
  int backup_retention = 0;                // backup.retention: keep this resource's newest N; 0: all
  // backup.pvc (Kubernetes mode): the PersistentVolumeClaim the backup Job writes to, and the
  // folder inside it ("" : its root). Empty claim: no claim (the Podman mode's backup.dir).
  std::string backup_pvc_claim;
  std::string backup_pvc_sub_path;
  bool restore_allow_data_loss = false;    // restoreBackup.allowDataLoss: restore even over writes
                                           // made since the backup (they are lost)
  std::optional<MaintenanceWindow> window;
  std::chrono::milliseconds lock_timeout{5000};
  std::chrono::milliseconds statement_timeout{1800000};
  std::chrono::milliseconds lock_wait{60000};  // how long to wait for the migration lock
  RetryPolicy retries;
  OnFailure on_failure = OnFailure::kHalt;
  std::vector<std::string> accept_drift;   // versions whose edited checksum is accepted
  bool fail_on_lint_errors = false;        // lint findings of severity error gate the apply
  std::chrono::milliseconds blocked_session_limit{0};  // 0: report only, never cancel
  // The blocked-session watch opens its own session only once a statement has run this long
  // (short migrations cost one session); 0: open it with the migration.
  std::chrono::milliseconds lock_watch_after{1000};
  std::chrono::milliseconds verify_settle{5000};       // how long a bumped container must stay up
  // A target older than the database (it holds migrations the target's source does not know) is
  // refused unless this is set: then the image is changed and the database left as it is (the
  // operator rolled the schema back, or knows the older version runs on the newer schema).
  bool allow_downgrade = false;
  // spec.upgradePath: walk the listed releases between the running version and the target one by
  // one (migrate, bump, verify each) instead of refusing the jump (docs/upgrade-paths.md).
  bool step_through = false;
  // Rehearse the pending migrations on a scratch copy of the database first (a gate after the
  // others, before the backup and any change); a failing rehearsal fails the upgrade (RehearsalFailed).
  bool rehearse = false;
  // policy.rehearseOn.dsnFrom (docs/rehearsal.md): make the rehearsal's copy on this server (by
  // pg_dump | pg_restore into a scratch database there) instead of the source's. The same
  // sources as spec.database.dsnFrom; its database is where the admin session connects.
  bool rehearse_on_set = false;
  DsnSource rehearse_on;
  // policy.contract (docs/expand-contract.md): contract migrations run this long after the new
  // version was verified (the soak; 0: at once), and with contract_approval_required only once
  // their own plan hash (Plan::contract_hash) is approved: policy.contract.planHash, else the
  // annotation olympus.io/approve-contract (not part of the spec hash, like approval.planHash).
  std::chrono::milliseconds contract_after{0};
  bool contract_approval_required = false;
  std::string contract_approved_hash;
  bool operator==(const PolicySpec&) const = default;
};

struct SchemaUpgrade {
  // metadata
  std::string name;
  std::string namespace_ = "default";
  long long generation = 1;
  // metadata.uid in Kubernetes mode (owner references of migration Jobs); "" for manifest files.
  std::string uid;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> labels;
  // spec
  std::string service;
  std::string target_version;
  std::string image;  // empty: <workload's repository>:<targetVersion>
  WorkloadRef workload;
  DsnSource dsn;
  MigrationsSpec migrations;
  PolicySpec policy;
  std::vector<DependencyRef> depends_on;  // spec.dependsOn, in the order given (no duplicates, no self)
  std::vector<UpgradePathEntry> upgrade_path;  // spec.upgradePath, ascending versions, no duplicates
  // sha256 hex of the canonical spec (ComputeSpecHash): changes exactly when the desired state
  // changes, so the reconciler can tell a new spec from a retry even without a generation.
  std::string spec_hash;
  // provenance, for error messages
  std::string source_file;
  int source_line = 0;

  // "namespace/name": the key of this resource in queues, state and audit rows.
  std::string Key() const { return namespace_ + "/" + name; }
  bool operator==(const SchemaUpgrade&) const = default;
};

const char* OnFailureName(OnFailure f);

// sha256 hex of every spec field (after defaults and path resolution) in a fixed order. Metadata,
// provenance and policy.approved_plan_hash are left out: approving a plan (by annotation or in
// the spec) is not a change of desired state, just as annotations do not bump a generation.
std::string ComputeSpecHash(const SchemaUpgrade& su);

}  // namespace su
