// Unit tests of the SchemaUpgrade manifest loader: field round-trip, defaults, every kind of
// validation error (with its exact file:line and field path), paths, DSN resolution, secrecy.
#include "reconcilers/manifest/manifest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "reconcilers/base/secrets.h"
#include "reconcilers/manifest/did_you_mean.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using std::chrono::milliseconds;

// Minimal valid resource; the comments are line numbers that tests below rely on.
const std::string kMinimal =
    "apiVersion: olympus.io/v1alpha1\n"  // 1
    "kind: SchemaUpgrade\n"              // 2
    "metadata:\n"                        // 3
    "  name: app\n"                      // 4
    "spec:\n"                            // 5
    "  targetVersion: v2\n"              // 6
    "  database:\n"                      // 7
    "    dsnFrom: {env: APP_DSN}\n"      // 8
    "  migrations:\n"                    // 9
    "    engine: sql\n"                  // 10
    "    path: migrations\n";            // 11

// kMinimal plus a policy section whose lines start at 13.
std::string WithPolicy(const std::string& lines) { return kMinimal + "  policy:\n" + lines; }

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

Result<std::vector<SchemaUpgrade>> Parse(const std::string& text) {
  return ParseManifests(text, "m.yaml", "/base");
}

// The error message of a manifest that must fail ("" and a test failure if it parsed).
std::string ErrorOf(const std::string& text) {
  auto r = Parse(text);
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

SchemaUpgrade ParseOne(const std::string& text) {
  auto r = Parse(text);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok() || r->size() != 1) {
    ADD_FAILURE() << "expected exactly one resource";
    return SchemaUpgrade{};
  }
  return (*r)[0];
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing: " << (needle) << "\nin: " << (haystack)

TEST(ManifestParseTest, FullManifestRoundTripsEveryField) {
  const std::string text = R"(apiVersion: olympus.io/v1alpha1
kind: SchemaUpgrade
metadata:
  name: kratos
  namespace: ciam
  generation: 7
  labels: {team: iam}
  annotations: {note: hello}
spec:
  service: kratos-svc
  targetVersion: v1.2.0
  image: oryd/kratos:v1.2.0
  workload:
    kind: ComposeService
    name: ciam-kratos
    composeFile: compose/docker-compose.yml
    service: kratos
  database:
    dsnFrom: {file: secrets/dsn}
  migrations:
    engine: ory
    command: [kratos, migrate, sql, up, -e, --yes]
    statusCommand: [kratos, migrate, sql, status, -e]
  policy:
    dryRun: true
    approval: {required: true, planHash: abc123}
    backup: {enabled: true, dir: /var/backups}
    maintenanceWindow: {start: "22:00", end: "04:30", timeZone: Europe/Berlin, days: [mon, Friday]}
    lockTimeout: 500ms
    statementTimeout: 1h30m
    lockWait: 2m
    retries: {limit: 0, backoff: {initial: 1s, max: 1m}}
    onFailure: restoreBackup
    acceptDrift: ["20150100000001000000", "*"]
    failOnLintErrors: true
    blockedSessionLimit: 30s
    verify: {settle: 15s}
status: {phase: Succeeded, observedGeneration: 3}
)";
  SchemaUpgrade su = ParseOne(text);
  EXPECT_EQ(su.name, "kratos");
  EXPECT_EQ(su.namespace_, "ciam");
  EXPECT_EQ(su.Key(), "ciam/kratos");
  EXPECT_EQ(su.generation, 7);
  EXPECT_EQ(su.labels, (std::map<std::string, std::string>{{"team", "iam"}}));
  EXPECT_EQ(su.annotations, (std::map<std::string, std::string>{{"note", "hello"}}));
  EXPECT_EQ(su.service, "kratos-svc");
  EXPECT_EQ(su.target_version, "v1.2.0");
  EXPECT_EQ(su.image, "oryd/kratos:v1.2.0");
  EXPECT_EQ(su.workload.kind, "ComposeService");
  EXPECT_EQ(su.workload.name, "ciam-kratos");
  EXPECT_EQ(su.workload.container, "");
  EXPECT_EQ(su.workload.compose_file, "/base/compose/docker-compose.yml");
  EXPECT_EQ(su.workload.service, "kratos");
  EXPECT_EQ(su.dsn.kind, DsnSource::Kind::kFile);
  EXPECT_EQ(su.dsn.file, "/base/secrets/dsn");
  EXPECT_EQ(su.migrations.engine, "ory");
  EXPECT_EQ(su.migrations.command, (std::vector<std::string>{"kratos", "migrate", "sql", "up", "-e", "--yes"}));
  EXPECT_EQ(su.migrations.status_command, (std::vector<std::string>{"kratos", "migrate", "sql", "status", "-e"}));
  EXPECT_EQ(su.migrations.path, "");
  const PolicySpec& p = su.policy;
  EXPECT_TRUE(p.dry_run);
  EXPECT_TRUE(p.approval_required);
  EXPECT_EQ(p.approved_plan_hash, "abc123");
  EXPECT_TRUE(p.backup_enabled);
  EXPECT_EQ(p.backup_dir, "/var/backups");  // absolute paths stay as they are
  ASSERT_TRUE(p.window.has_value());
  EXPECT_EQ(p.window->start, "22:00");
  EXPECT_EQ(p.window->end, "04:30");
  EXPECT_EQ(p.window->time_zone, "Europe/Berlin");
  EXPECT_EQ(p.window->days, (std::vector<std::string>{"Mon", "Fri"}));
  EXPECT_EQ(p.lock_timeout, milliseconds(500));
  EXPECT_EQ(p.statement_timeout, milliseconds(5400000));
  EXPECT_EQ(p.lock_wait, milliseconds(120000));
  EXPECT_EQ(p.retries.limit, 0);
  EXPECT_EQ(p.retries.initial_backoff, milliseconds(1000));
  EXPECT_EQ(p.retries.max_backoff, milliseconds(60000));
  EXPECT_EQ(p.on_failure, OnFailure::kRestoreBackup);
  EXPECT_STREQ(OnFailureName(p.on_failure), "restoreBackup");
  EXPECT_EQ(p.accept_drift, (std::vector<std::string>{"20150100000001000000", "*"}));
  EXPECT_TRUE(p.fail_on_lint_errors);
  EXPECT_EQ(p.blocked_session_limit, milliseconds(30000));
  EXPECT_EQ(p.verify_settle, milliseconds(15000));
  EXPECT_EQ(su.source_file, "m.yaml");
  EXPECT_EQ(su.source_line, 1);
  EXPECT_EQ(su.spec_hash.size(), 64u);
}

TEST(ManifestParseTest, MinimalManifestGetsDocumentedDefaults) {
  SchemaUpgrade su = ParseOne(kMinimal);
  EXPECT_EQ(su.namespace_, "default");
  EXPECT_EQ(su.service, "app");  // defaults to metadata.name
  EXPECT_EQ(su.generation, 1);
  EXPECT_EQ(su.workload.kind, "");  // no workload: migrations only
  EXPECT_EQ(su.dsn.kind, DsnSource::Kind::kEnv);
  EXPECT_EQ(su.dsn.env, "APP_DSN");
  EXPECT_EQ(su.migrations.path, "/base/migrations");
  EXPECT_EQ(su.migrations.schema, "public");
  EXPECT_FALSE(su.policy.window.has_value());
  EXPECT_EQ(su.policy.on_failure, OnFailure::kHalt);
  EXPECT_EQ(su.policy.lock_timeout, milliseconds(5000));
  EXPECT_EQ(su.policy.retries.limit, 10);
}

TEST(ManifestParseTest, KubernetesWorkloadKeepsContainer) {
  SchemaUpgrade su = ParseOne(kMinimal + "  workload: {kind: StatefulSet, name: db-app, container: app}\n");
  EXPECT_EQ(su.workload.kind, "StatefulSet");
  EXPECT_EQ(su.workload.name, "db-app");
  EXPECT_EQ(su.workload.container, "app");
  EXPECT_EQ(su.workload.service, "");
}

TEST(ManifestParseTest, OryEngineDefaultsItsCommand) {
  std::string text = Replace(Replace(kMinimal, "    engine: sql\n", "    engine: ory\n"), "    path: migrations\n", "");
  text += "  image: oryd/kratos:v2\n";
  SchemaUpgrade su = ParseOne(text);
  EXPECT_EQ(su.migrations.command, (std::vector<std::string>{"migrate", "sql", "up", "-e", "--yes"}));
  EXPECT_TRUE(su.migrations.status_command.empty());  // the ory engine derives it from command
  EXPECT_EQ(su.migrations.schema, "");
}

TEST(ManifestParseTest, ComposeServiceDefaultsServiceToName) {
  SchemaUpgrade su = ParseOne(kMinimal + "  workload: {kind: ComposeService, name: web, composeFile: c.yml}\n");
  EXPECT_EQ(su.workload.service, "web");
  EXPECT_EQ(su.workload.compose_file, "/base/c.yml");
}

TEST(ManifestParseTest, MultipleDocumentsSkipEmptyOnesAndKeepStreamLines) {
  std::string second = Replace(kMinimal, "  name: app\n", "  name: other\n");
  std::string text = "---\n# only a comment\n---\n" + kMinimal + "---\n---\n" + second;
  auto r = Parse(text);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "app");
  EXPECT_EQ((*r)[0].source_line, 4);   // after "---", comment, "---"
  EXPECT_EQ((*r)[1].name, "other");
  EXPECT_EQ((*r)[1].source_line, 17);  // 3 + 11 lines + "---" + "---" + 1
  // An error in the second document is reported at its line in the whole file.
  std::string bad = "---\n# only a comment\n---\n" + kMinimal + "---\n---\n" +
                    Replace(second, "engine: sql", "engine: sqll");
  EXPECT_HAS(ErrorOf(bad), "m.yaml:26: spec.migrations.engine:");
}

TEST(ManifestParseTest, EmptyFileHasNoResources) {
  auto r = Parse("# nothing here\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(ManifestParseTest, SameNameTwiceInOneFileIsAnError) {
  std::string e = ErrorOf(kMinimal + "---\n" + kMinimal);
  EXPECT_HAS(e, "m.yaml:13: metadata.name: default/app is also defined at line 1");
}

TEST(ManifestErrorTest, ApiVersionAndKind) {
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "olympus.io/v1alpha1", "olympus.io/v1")),
             "m.yaml:1: apiVersion: \"olympus.io/v1\" is not supported; expected olympus.io/v1alpha1");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "kind: SchemaUpgrade", "kind: Deployment")),
             "m.yaml:2: kind: \"Deployment\" is not supported; expected SchemaUpgrade");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "kind: SchemaUpgrade\n", "")), "m.yaml:1: kind: is required; expected SchemaUpgrade");
}

TEST(ManifestErrorTest, MetadataNameMustBeDns1123Label) {
  std::string e = ErrorOf(Replace(kMinimal, "name: app", "name: My_App"));
  EXPECT_HAS(e, "m.yaml:4: metadata.name: \"My_App\" is not a DNS-1123 label; expected");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "  name: app\n", "  namespace: x\n")),
             "m.yaml:3: metadata.name: is required; expected a DNS-1123 label");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "  name: app\n", "  name: app\n  generation: 0\n")),
             "m.yaml:5: metadata.generation: is 0; expected an integer >= 1");
}

TEST(ManifestErrorTest, RequiredSpecFields) {
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "  targetVersion: v2\n", "")),
             "m.yaml:5: spec.targetVersion: is required; expected the version to upgrade to");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "    dsnFrom: {env: APP_DSN}\n", "")),
             "m.yaml:7: spec.database.dsnFrom: is required; expected exactly one of env");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "{env: APP_DSN}", "{env: APP_DSN, file: dsn.txt}")),
             "m.yaml:8: spec.database.dsnFrom: sets 2 sources; expected exactly one of env");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "{env: APP_DSN}", "{secretKeyRef: {name: db}}")),
             "m.yaml:8: spec.database.dsnFrom.secretKeyRef.key: is required");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "  targetVersion: v2\n", "  targetVersion: v2 beta\n")),
             "m.yaml:6: spec.targetVersion: \"v2 beta\" is not a valid version");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "    engine: sql\n", "")),
             "m.yaml:9: spec.migrations.engine: is required; expected one of ory, drizzle, sql");
}

TEST(ManifestErrorTest, EngineRules) {
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "engine: sql", "engine: flyway")),
             "m.yaml:10: spec.migrations.engine: \"flyway\" is not an engine; expected one of ory, drizzle, sql");
  EXPECT_HAS(ErrorOf(Replace(Replace(kMinimal, "engine: sql", "engine: drizzle"), "    path: migrations\n", "")),
             "m.yaml:9: spec.migrations.path: is required; expected the migrations folder for engine drizzle");
  EXPECT_HAS(ErrorOf(kMinimal + "    command: [up]\n"),
             "m.yaml:12: spec.migrations.command: is only used by engine ory");
  // ory with no image and no workload has nothing to run its migrator from.
  std::string ory = Replace(Replace(kMinimal, "engine: sql", "engine: ory"), "    path: migrations\n", "");
  EXPECT_HAS(ErrorOf(ory), "m.yaml:5: spec.image: is required; expected the target image");
  EXPECT_HAS(ErrorOf(ory + "    path: x\n  image: a/b:c\n"), "m.yaml:11: spec.migrations.path: is only used by engines sql and drizzle");
  EXPECT_HAS(ErrorOf(kMinimal + "    command: up\n"), "m.yaml:12: spec.migrations.command: is a plain scalar; expected a list of strings");
}

TEST(ManifestTest, ComposeFileMayComeFromTheCliDefault) {
  // `--compose FILE` fills it in; the reconciler refuses a ComposeService that has neither.
  SchemaUpgrade su = ParseOne(kMinimal + "  workload:\n    kind: ComposeService\n    name: web\n");
  EXPECT_EQ(su.workload.compose_file, "");
  EXPECT_EQ(su.workload.service, "web");
}

TEST(ManifestErrorTest, WorkloadRules) {
  EXPECT_HAS(ErrorOf(kMinimal + "  workload: {kind: DaemonSet, name: x}\n"),
             "m.yaml:12: spec.workload.kind: \"DaemonSet\" is not a workload kind; expected one of Deployment, StatefulSet, ComposeService");
  EXPECT_HAS(ErrorOf(kMinimal + "  workload:\n    kind: Deployment\n"),
             "m.yaml:12: spec.workload.name: is required");
  EXPECT_HAS(ErrorOf(kMinimal + "  workload:\n    kind: Deployment\n    name: web\n    composeFile: c.yml\n"),
             "m.yaml:15: spec.workload.composeFile: is only used by kind ComposeService");
}

TEST(ManifestErrorTest, DurationsAreBoundedAtParseTime) {
  // 3000 terms of 1e9 hours overflowed a 64-bit millisecond count and were accepted.
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "1000000000h";
  EXPECT_HAS(ErrorOf(WithPolicy("    lockWait: " + huge + "\n")),
             "m.yaml:13: spec.policy.lockWait: \"1000000000h1000000000h");
  EXPECT_HAS(ErrorOf(WithPolicy("    lockWait: " + huge + "\n")), "is longer than 8760h (365 days)");
  EXPECT_HAS(ErrorOf(WithPolicy("    retries: {backoff: {max: 9000h}}\n")),
             "m.yaml:13: spec.policy.retries.backoff.max: \"9000h\" is longer than 8760h");
  // Values that go to PostgreSQL are held to its limit (INT_MAX ms), named by the manifest field.
  EXPECT_HAS(ErrorOf(WithPolicy("    statementTimeout: 1000h\n")),
             "m.yaml:13: spec.policy.statementTimeout: is 1000h; PostgreSQL's statement_timeout takes at most "
             "2147483647ms");
  EXPECT_HAS(ErrorOf(WithPolicy("    lockTimeout: 597h\n")),
             "m.yaml:13: spec.policy.lockTimeout: is 597h; PostgreSQL's lock_timeout takes at most");
  EXPECT_EQ(ParseOne(WithPolicy("    statementTimeout: 596h\n")).policy.statement_timeout.count(), 596LL * 3600000);
}

TEST(ManifestParseTest, LockWatchAfterDefaultsToOneSecondAndIsBounded) {
  EXPECT_EQ(ParseOne(kMinimal).policy.lock_watch_after, milliseconds(1000));
  EXPECT_EQ(ParseOne(WithPolicy("    lockWatchAfter: 250ms\n")).policy.lock_watch_after, milliseconds(250));
  EXPECT_EQ(ParseOne(WithPolicy("    lockWatchAfter: 0\n")).policy.lock_watch_after, milliseconds(0));
  EXPECT_HAS(ErrorOf(WithPolicy("    lockWatchAfter: soon\n")),
             "m.yaml:13: spec.policy.lockWatchAfter: \"soon\" is not a duration");
  EXPECT_HAS(ErrorOf(WithPolicy("    lockWatchAfter: 11m\n")),
             "m.yaml:13: spec.policy.lockWatchAfter: is longer than 10m");
  // The default leaves the spec hash (and with it approvals) as it was; another value changes it.
  EXPECT_EQ(ComputeSpecHash(ParseOne(WithPolicy("    lockWatchAfter: 1s\n"))), ComputeSpecHash(ParseOne(kMinimal)));
  // policy.rehearse: a bool, in the spec hash only when set.
  EXPECT_TRUE(ParseOne(WithPolicy("    rehearse: true\n")).policy.rehearse);
  EXPECT_FALSE(ParseOne(kMinimal).policy.rehearse);
  EXPECT_EQ(ComputeSpecHash(ParseOne(WithPolicy("    rehearse: false\n"))), ComputeSpecHash(ParseOne(kMinimal)));
  EXPECT_NE(ComputeSpecHash(ParseOne(WithPolicy("    rehearse: true\n"))), ComputeSpecHash(ParseOne(kMinimal)));
  EXPECT_HAS(ErrorOf(WithPolicy("    rehearse: yes please\n")), "spec.policy.rehearse");
  EXPECT_HAS(ErrorOf(WithPolicy("    rehears: true\n")), "m.yaml:13: spec.policy.rehears: unknown field; did you mean rehearse?");
  EXPECT_NE(ComputeSpecHash(ParseOne(WithPolicy("    lockWatchAfter: 2s\n"))), ComputeSpecHash(ParseOne(kMinimal)));
}

TEST(ManifestParseTest, RehearseOnNamesTheRehearsalServerWithTheDatabaseDsnSources) {
  EXPECT_FALSE(ParseOne(kMinimal).policy.rehearse_on_set);
  SchemaUpgrade env = ParseOne(WithPolicy("    rehearseOn:\n      dsnFrom: {env: REHEARSAL_DSN}\n"));
  EXPECT_TRUE(env.policy.rehearse_on_set);
  EXPECT_EQ(env.policy.rehearse_on.kind, DsnSource::Kind::kEnv);
  EXPECT_EQ(env.policy.rehearse_on.env, "REHEARSAL_DSN");
  EXPECT_FALSE(env.policy.rehearse) << "rehearseOn says where, rehearse whether";
  SchemaUpgrade file = ParseOne(WithPolicy("    rehearseOn: {dsnFrom: {file: secrets/rehearsal}}\n"));
  EXPECT_EQ(file.policy.rehearse_on.kind, DsnSource::Kind::kFile);
  EXPECT_EQ(file.policy.rehearse_on.file, "/base/secrets/rehearsal") << "resolved against the manifest's folder";
  SchemaUpgrade secret = ParseOne(WithPolicy("    rehearseOn: {dsnFrom: {secretKeyRef: {name: scratch-db, key: dsn}}}\n"));
  EXPECT_EQ(secret.policy.rehearse_on.kind, DsnSource::Kind::kSecretKeyRef);
  EXPECT_EQ(secret.policy.rehearse_on.secret_name, "scratch-db");
  EXPECT_EQ(secret.policy.rehearse_on.secret_key, "dsn");
  // The database's own source is left alone.
  EXPECT_EQ(env.dsn, ParseOne(kMinimal).dsn);

  // In the spec hash only when set, and which source it names matters.
  EXPECT_NE(ComputeSpecHash(env), ComputeSpecHash(ParseOne(kMinimal)));
  EXPECT_NE(ComputeSpecHash(env), ComputeSpecHash(file));

  // Errors name the field; a pasted DSN is never echoed.
  EXPECT_HAS(ErrorOf(WithPolicy("    rehearseOnn: {dsnFrom: {env: X}}\n")),
             "m.yaml:13: spec.policy.rehearseOnn: unknown field; did you mean rehearseOn?");
  EXPECT_HAS(ErrorOf(WithPolicy("    rehearseOn: {dsnFrom: {evn: X}}\n")),
             "spec.policy.rehearseOn.dsnFrom.evn: unknown field; did you mean env?");
  EXPECT_HAS(ErrorOf(WithPolicy("    rehearseOn: {dsnFron: {env: X}}\n")),
             "spec.policy.rehearseOn.dsnFron: unknown field; did you mean dsnFrom?");
  EXPECT_HAS(ErrorOf(WithPolicy("    rehearseOn: {}\n")), "spec.policy.rehearseOn.dsnFrom");
  EXPECT_HAS(ErrorOf(WithPolicy("    rehearseOn: {dsnFrom: {env: A, file: b}}\n")),
             "spec.policy.rehearseOn.dsnFrom: sets 2 sources; expected exactly one of");
  const std::string pasted = ErrorOf(WithPolicy("    rehearseOn: {dsnFrom: {env: \"postgres://u:hunter2x@db/x\"}}\n"));
  EXPECT_HAS(pasted, "spec.policy.rehearseOn.dsnFrom.env: is not an environment variable name");
  EXPECT_EQ(pasted.find("hunter2x"), std::string::npos) << pasted;
  EXPECT_HAS(ErrorOf(WithPolicy("    rehearseOn: somewhere\n")), "spec.policy.rehearseOn");
}

TEST(ManifestErrorTest, DeeplyNestedYamlSaysSoWithTheFile) {
  std::string deep = kMinimal + "  service: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  std::string e = ErrorOf(deep);
  EXPECT_HAS(e, "m.yaml:12: YAML nested too deeply");
  EXPECT_EQ(e.find("bad file"), std::string::npos) << e;
}

TEST(ManifestErrorTest, UnknownTimeZoneFailsAtParseTime) {
  EXPECT_HAS(ErrorOf(WithPolicy("    maintenanceWindow: {start: \"02:00\", end: \"03:00\", timeZone: Mars/Olympus}\n")),
             "m.yaml:13: spec.policy.maintenanceWindow.timeZone: \"Mars/Olympus\" is not a time zone this system "
             "knows");
  EXPECT_HAS(ErrorOf(WithPolicy("    maintenanceWindow: {start: \"02:00\", end: \"03:00\", timeZone: ../../etc/passwd}\n")),
             "spec.policy.maintenanceWindow.timeZone:");
  EXPECT_EQ(ParseOne(WithPolicy("    maintenanceWindow: {start: \"02:00\", end: \"03:00\", timeZone: UTC}\n"))
                .policy.window->time_zone,
            "UTC");
}

TEST(ManifestErrorTest, DurationsWindowsAndPolicies) {
  EXPECT_HAS(ErrorOf(WithPolicy("    lockTimeout: 5 seconds\n")),
             "m.yaml:13: spec.policy.lockTimeout: \"5 seconds\" is not a duration (expected e.g. 500ms");
  EXPECT_HAS(ErrorOf(WithPolicy("    verify: {settle: soon}\n")), "m.yaml:13: spec.policy.verify.settle: \"soon\" is not a duration");
  EXPECT_HAS(ErrorOf(WithPolicy("    maintenanceWindow:\n      start: \"25:00\"\n      end: \"04:00\"\n")),
             "m.yaml:14: spec.policy.maintenanceWindow.start: \"25:00\" is not a time of day; expected HH:MM");
  EXPECT_HAS(ErrorOf(WithPolicy("    maintenanceWindow: {start: \"02:00\"}\n")),
             "m.yaml:13: spec.policy.maintenanceWindow.end: is required; expected a time of day HH:MM");
  EXPECT_HAS(ErrorOf(WithPolicy("    maintenanceWindow: {start: \"02:00\", end: \"03:00\", days: [Moonday]}\n")),
             "m.yaml:13: spec.policy.maintenanceWindow.days: \"Moonday\" is not a day");
  EXPECT_HAS(ErrorOf(WithPolicy("    onFailure: panic\n")),
             "m.yaml:13: spec.policy.onFailure: \"panic\" is not a failure policy; expected one of halt, rollbackImage, restoreBackup, runDown");
  EXPECT_HAS(ErrorOf(Replace(WithPolicy("    onFailure: runDown\n"), "engine: sql", "engine: drizzle")),
             "m.yaml:13: spec.policy.onFailure: runDown needs .down.sql files, which only engine sql has");
  EXPECT_TRUE(Parse(WithPolicy("    onFailure: runDown\n")).ok());
  EXPECT_HAS(ErrorOf(WithPolicy("    onFailure: restoreBackup\n")),
             "m.yaml:13: spec.policy.onFailure: restoreBackup needs a backup; expected policy.backup.enabled: true");
  EXPECT_HAS(ErrorOf(WithPolicy("    onFailure: rollbackImage\n")), "m.yaml:13: spec.policy.onFailure: rollbackImage needs a workload");
  EXPECT_HAS(ErrorOf(WithPolicy("    retries:\n      limit: -1\n")),
             "m.yaml:14: spec.policy.retries.limit: is -1; expected an integer >= 0");
  EXPECT_HAS(ErrorOf(WithPolicy("    retries: {backoff: {initial: 10m, max: 1m}}\n")),
             "m.yaml:13: spec.policy.retries.backoff.max: backoff initial is longer than max");
}

TEST(ManifestParseTest, BackupRetentionAndRestoreBackupOptions) {
  SchemaUpgrade su = ParseOne(WithPolicy("    backup: {enabled: true, retention: 3}\n    onFailure: restoreBackup\n"
                                         "    restoreBackup: {allowDataLoss: true}\n"));
  EXPECT_EQ(su.policy.backup_retention, 3);
  EXPECT_TRUE(su.policy.restore_allow_data_loss);
  SchemaUpgrade plain = ParseOne(WithPolicy("    backup: {enabled: true}\n    onFailure: restoreBackup\n"));
  EXPECT_EQ(plain.policy.backup_retention, 0);
  EXPECT_FALSE(plain.policy.restore_allow_data_loss);
  EXPECT_NE(su.spec_hash, plain.spec_hash);
  EXPECT_HAS(ErrorOf(WithPolicy("    backup: {enabled: true, retention: 0}\n")),
             "m.yaml:13: spec.policy.backup.retention: is 0; expected how many of this resource's newest backups");
  EXPECT_HAS(ErrorOf(WithPolicy("    backup: {enabled: true}\n    restoreBackup: {allowDataLoss: true}\n")),
             "spec.policy.restoreBackup: configures onFailure restoreBackup, but onFailure is not set");
  EXPECT_HAS(ErrorOf(WithPolicy("    onFailure: halt\n    restoreBackup: {allowDataLoss: true}\n")),
             "spec.policy.restoreBackup: configures onFailure restoreBackup, but onFailure is halt");
  EXPECT_HAS(ErrorOf(WithPolicy("    backup: {enabled: true}\n    onFailure: restoreBackup\n    restoreBackup: {allowDataloss: true}\n")),
             "allowDataLoss");
}

TEST(ManifestErrorTest, TypesAreChecked) {
  EXPECT_HAS(ErrorOf(WithPolicy("    dryRun: \"true\"\n")),
             "m.yaml:13: spec.policy.dryRun: is a quoted string; expected a boolean: true or false");
  EXPECT_HAS(ErrorOf(WithPolicy("    dryRun: yes\n")), "m.yaml:13: spec.policy.dryRun: is \"yes\"; expected a boolean: true or false");
  EXPECT_HAS(ErrorOf(WithPolicy("    failOnLintErrors: [true]\n")), "m.yaml:13: spec.policy.failOnLintErrors: is a list; expected a boolean");
  EXPECT_HAS(ErrorOf(WithPolicy("    retries: {limit: \"3\"}\n")), "m.yaml:13: spec.policy.retries.limit: is a quoted string; expected an integer");
  EXPECT_HAS(ErrorOf(WithPolicy("    retries: {limit: three}\n")), "m.yaml:13: spec.policy.retries.limit: is \"three\"; expected an integer");
  EXPECT_HAS(ErrorOf(WithPolicy("    approval: true\n")), "m.yaml:13: spec.policy.approval: is a plain scalar; expected a mapping with fields required, planHash");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "targetVersion: v2", "targetVersion: {v: 2}")),
             "m.yaml:6: spec.targetVersion: is a mapping; expected a string");
  EXPECT_HAS(ErrorOf(WithPolicy("    acceptDrift: [\"1\", [2]]\n")), "m.yaml:13: spec.policy.acceptDrift[1]: is a list; expected a non-empty string");
}

TEST(ManifestErrorTest, UnknownFieldsSuggestTheClosestName) {
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "targetVersion", "targetVersoin")),
             "m.yaml:6: spec.targetVersoin: unknown field; did you mean targetVersion?");
  EXPECT_HAS(ErrorOf(WithPolicy("    lockTimout: 5s\n")), "m.yaml:13: spec.policy.lockTimout: unknown field; did you mean lockTimeout?");
  EXPECT_HAS(ErrorOf(Replace(kMinimal, "spec:", "spce:")), "m.yaml:5: spce: unknown field; did you mean spec?");
  EXPECT_HAS(ErrorOf(WithPolicy("    zzz: 1\n")), "m.yaml:13: spec.policy.zzz: unknown field; expected one of dryRun, approval, backup");
  EXPECT_HAS(ErrorOf(kMinimal + "  workload: {kind: Deployment, name: w, contianer: c}\n"),
             "m.yaml:12: spec.workload.contianer: unknown field; did you mean container?");
}

TEST(ManifestErrorTest, DuplicateKeysSyntaxErrorsAndNonMappings) {
  EXPECT_HAS(ErrorOf(kMinimal + "  targetVersion: v3\n"), "m.yaml:12: spec.targetVersion: is set twice (first at line 6)");
  EXPECT_HAS(ErrorOf(kMinimal + "  policy: {dryRun: [\n"), "m.yaml:13: YAML syntax error:");
  EXPECT_HAS(ErrorOf("- a\n- b\n"), "m.yaml:1: document is a list; expected a SchemaUpgrade resource");
}

TEST(ManifestErrorTest, AllErrorsOfAFileAreReported) {
  std::string e = ErrorOf(Replace(Replace(kMinimal, "engine: sql", "engine: x"), "name: app", "name: A"));
  EXPECT_HAS(e, "m.yaml:4: metadata.name:");
  EXPECT_HAS(e, "m.yaml:10: spec.migrations.engine:");
}

TEST(ManifestParseTest, ApprovalAnnotationIsUsedUnlessTheSpecSetsAHash) {
  std::string annotated = Replace(kMinimal, "  name: app\n",
                                  "  name: app\n  annotations: {olympus.io/approved-plan-hash: fromannotation}\n");
  EXPECT_EQ(ParseOne(annotated).policy.approved_plan_hash, "fromannotation");
  std::string both = annotated + "  policy: {approval: {planHash: fromspec}}\n";
  EXPECT_EQ(ParseOne(both).policy.approved_plan_hash, "fromspec");
}

TEST(ManifestParseTest, ContractPolicyParsesWithDidYouMeanAndItsOwnApprovalAnnotation) {
  SchemaUpgrade su = ParseOne(WithPolicy("    contract:\n      after: 24h\n      approvalRequired: true\n"));
  EXPECT_EQ(su.policy.contract_after, std::chrono::hours(24));
  EXPECT_TRUE(su.policy.contract_approval_required);
  EXPECT_EQ(ParseOne(kMinimal).policy.contract_after, milliseconds(0));
  EXPECT_FALSE(ParseOne(kMinimal).policy.contract_approval_required);
  EXPECT_HAS(ErrorOf(WithPolicy("    contract:\n      afterr: 1h\n")),
             "spec.policy.contract.afterr: unknown field; did you mean after?");
  EXPECT_HAS(ErrorOf(WithPolicy("    contract:\n      after: soon\n")), "spec.policy.contract.after: \"soon\" is not a duration");
  EXPECT_HAS(ErrorOf(WithPolicy("    contract:\n      after: 2161h\n")), "spec.policy.contract.after: is longer than 90 days");
  EXPECT_HAS(ErrorOf(WithPolicy("    contrakt: {after: 1h}\n")), "spec.policy.contrakt: unknown field; did you mean contract?");
  // Set: part of the spec hash; default: existing specs keep theirs. The approval is not.
  EXPECT_NE(su.spec_hash, ParseOne(kMinimal).spec_hash);
  EXPECT_EQ(ParseOne(WithPolicy("    contract: {after: 0}\n")).spec_hash, ParseOne(kMinimal).spec_hash);
  std::string annotated = Replace(kMinimal, "  name: app\n",
                                  "  name: app\n  annotations: {olympus.io/approve-contract: c0ffee0123456789}\n");
  EXPECT_EQ(ParseOne(annotated).policy.contract_approved_hash, "c0ffee0123456789");
  EXPECT_EQ(ParseOne(annotated).spec_hash, ParseOne(kMinimal).spec_hash);
  EXPECT_EQ(ParseOne(annotated + "  policy: {contract: {planHash: fromspec}}\n").policy.contract_approved_hash,
            "fromspec");
}

TEST(ManifestParseTest, SpecHashFollowsTheSpecOnly) {
  const std::string h = ParseOne(kMinimal).spec_hash;
  EXPECT_EQ(ParseOne(kMinimal).spec_hash, h);
  EXPECT_EQ(ParseOne("# a comment\n" + kMinimal).spec_hash, h);
  EXPECT_NE(ParseOne(Replace(kMinimal, "targetVersion: v2", "targetVersion: v3")).spec_hash, h);
  EXPECT_NE(ParseOne(WithPolicy("    lockTimeout: 6s\n")).spec_hash, h);
  // Metadata and approvals are not desired state.
  EXPECT_EQ(ParseOne(Replace(kMinimal, "  name: app\n", "  name: app\n  labels: {a: b}\n  generation: 4\n")).spec_hash, h);
  EXPECT_EQ(ParseOne(WithPolicy("    approval: {planHash: abc}\n")).spec_hash, h);
}

TEST(ManifestParseTest, StatusAndServerSetMetadataAreIgnored) {
  std::string text = Replace(kMinimal, "  name: app\n", "  name: app\n  uid: 123\n  resourceVersion: \"9\"\n") +
                     "status:\n  phase: Failed\n  whatever: [1]\n";
  EXPECT_EQ(ParseOne(text).name, "app");
}

TEST(ManifestLoadTest, RelativePathsResolveAgainstTheManifestsFolder) {
  testing::TempDir dir;
  std::string path = dir.Write("sub/app.yaml", kMinimal + "  policy: {backup: {enabled: true, dir: ../bk}}\n");
  auto r = LoadManifestFile(LocalFileSystem(), path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].migrations.path, dir.path() + "/sub/migrations");
  EXPECT_EQ((*r)[0].policy.backup_dir, dir.path() + "/sub/../bk");
  EXPECT_EQ((*r)[0].source_file, path);
  auto missing = LoadManifestFile(LocalFileSystem(), dir.Path("nope.yaml"));
  ASSERT_FALSE(missing.ok());
  EXPECT_HAS(missing.status().message(), "nope.yaml");
}

TEST(ManifestLoadTest, DirLoadsYamlFilesInNameOrderAndRejectsDuplicates) {
  testing::TempDir dir;
  dir.Write("b.yml", Replace(kMinimal, "name: app", "name: bee"));
  dir.Write("a.yaml", kMinimal);
  dir.Write("notes.txt", "not a manifest");
  dir.Write(".hidden.yaml", "garbage: [");
  auto r = LoadManifestDir(LocalFileSystem(), dir.path());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "app");
  EXPECT_EQ((*r)[1].name, "bee");

  dir.Write("c.yaml", "# again\n" + kMinimal);
  auto dup = LoadManifestDir(LocalFileSystem(), dir.path());
  ASSERT_FALSE(dup.ok());
  EXPECT_HAS(dup.status().message(), dir.Path("c.yaml") + ":2: metadata.name: default/app is also defined at " +
                                         dir.Path("a.yaml") + ":1");

  auto none = LoadManifestDir(LocalFileSystem(), dir.Path("missing"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
}

TEST(ManifestLoadTest, DirReportsErrorsOfEveryFile) {
  testing::TempDir dir;
  dir.Write("a.yaml", Replace(kMinimal, "engine: sql", "engine: x"));
  dir.Write("b.yaml", Replace(kMinimal, "targetVersion", "targetVersoin"));
  auto r = LoadManifestDir(LocalFileSystem(), dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.status().message(), dir.Path("a.yaml") + ":10: spec.migrations.engine");
  EXPECT_HAS(r.status().message(), dir.Path("b.yaml") + ":6: spec.targetVersoin: unknown field; did you mean targetVersion?");
}

TEST(ResolveDsnTest, FromEnvironmentRegistersTheSecret) {
  SchemaUpgrade su = ParseOne(kMinimal);
  const std::string dsn = "postgres://app:EnvPassw0rd9@db:5432/app";
  auto getenv_fn = [&](const char* name) -> const char* {
    return std::string(name) == "APP_DSN" ? dsn.c_str() : nullptr;
  };
  auto r = ResolveDsn(su, LocalFileSystem(), getenv_fn);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, dsn);
  EXPECT_EQ(Scrub("login with EnvPassw0rd9").find("EnvPassw0rd9"), std::string::npos);
}

TEST(ResolveDsnTest, MissingOrEmptyVariableIsNamedButNoValueIsShown) {
  SchemaUpgrade su = ParseOne(kMinimal);
  auto unset = ResolveDsn(su, LocalFileSystem(), [](const char*) -> const char* { return nullptr; });
  ASSERT_FALSE(unset.ok());
  EXPECT_HAS(unset.status().message(), "m.yaml:1: spec.database.dsnFrom.env: environment variable APP_DSN is not set or empty");
  auto empty = ResolveDsn(su, LocalFileSystem(), [](const char*) -> const char* { return ""; });
  ASSERT_FALSE(empty.ok());
  EXPECT_HAS(empty.status().message(), "APP_DSN");
}

TEST(ResolveDsnTest, FromFileTrimsTheTrailingNewline) {
  testing::TempDir dir;
  dir.Write("dsn", "host=db user=app password=FilePassw0rd7 dbname=app\n");
  auto parsed = ParseManifests(Replace(kMinimal, "{env: APP_DSN}", "{file: dsn}"), "m.yaml", dir.path());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto r = ResolveDsn((*parsed)[0], LocalFileSystem(), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "host=db user=app password=FilePassw0rd7 dbname=app");
  EXPECT_EQ(Scrub("FilePassw0rd7").find("FilePassw0rd7"), std::string::npos);

  dir.Write("dsn", "\n\n");
  auto empty = ResolveDsn((*parsed)[0], LocalFileSystem(), nullptr);
  ASSERT_FALSE(empty.ok());
  EXPECT_HAS(empty.status().message(), "spec.database.dsnFrom.file: " + dir.Path("dsn") + " is empty");

  auto other = ParseManifests(Replace(kMinimal, "{env: APP_DSN}", "{file: missing}"), "m.yaml", dir.path());
  ASSERT_TRUE(other.ok());
  auto missing = ResolveDsn((*other)[0], LocalFileSystem(), nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_HAS(missing.status().message(), dir.Path("missing"));
}

TEST(ResolveDsnTest, SecretKeyRefIsOnlyForKubernetes) {
  SchemaUpgrade su = ParseOne(Replace(kMinimal, "{env: APP_DSN}", "{secretKeyRef: {name: app-db, key: dsn}}"));
  EXPECT_EQ(su.dsn.secret_name, "app-db");
  EXPECT_EQ(su.dsn.secret_key, "dsn");
  auto r = ResolveDsn(su, LocalFileSystem(), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.status().message(), "spec.database.dsnFrom.secretKeyRef: Secret app-db key dsn is only available in Kubernetes mode");
}

TEST(SecrecyTest, ErrorsNeverContainTheDsn) {
  const std::string secret = "Pw4NeverShown";
  const std::string dsn = "postgres://app:" + secret + "@db/app";
  // The DSN pasted where the variable's name belongs.
  std::string e1 = ErrorOf(Replace(kMinimal, "{env: APP_DSN}", "{env: \"" + dsn + "\"}"));
  EXPECT_HAS(e1, "m.yaml:8: spec.database.dsnFrom.env: is not an environment variable name");
  EXPECT_EQ(e1.find(secret), std::string::npos) << e1;
  // The DSN under a field that does not exist.
  std::string e2 = ErrorOf(Replace(kMinimal, "    dsnFrom: {env: APP_DSN}\n", "    dsn: " + dsn + "\n"));
  EXPECT_HAS(e2, "m.yaml:8: spec.database.dsn: unknown field");
  EXPECT_EQ(e2.find(secret), std::string::npos) << e2;
  // A DSN file with more than the DSN in it.
  testing::TempDir dir;
  dir.Write("dsn", dsn + "\nsecond line " + secret + "\n");
  auto parsed = ParseManifests(Replace(kMinimal, "{env: APP_DSN}", "{file: dsn}"), "m.yaml", dir.path());
  ASSERT_TRUE(parsed.ok());
  auto r = ResolveDsn((*parsed)[0], LocalFileSystem(), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.status().message(), "has more than one line");
  EXPECT_EQ(r.status().message().find(secret), std::string::npos) << r.status().message();
}

TEST(DidYouMeanTest, EditDistanceCountsSwapsAsOneAndIgnoresCase) {
  EXPECT_EQ(EditDistance("targetVersoin", "targetVersion"), 1);
  EXPECT_EQ(EditDistance("targetversion", "targetVersion"), 0);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(ClosestMatch("lockWiat", {"lockTimeout", "lockWait"}), "lockWait");
  EXPECT_EQ(ClosestMatch("zzzzzz", {"lockTimeout", "lockWait"}), "");
}

// Every example shipped with the project must load (and so stay in step with the parser).
TEST(ExamplesTest, EveryExampleManifestParses) {
  const char* src = std::getenv("SU_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "set SU_SOURCE_DIR to the source tree";
  const std::string dir = std::string(src) + "/examples/manifests";
  auto names = LocalFileSystem()->ListDir(dir);
  ASSERT_TRUE(names.ok()) << names.status().message();
  std::vector<std::string> keys;
  int files = 0;
  for (const auto& n : *names) {
    auto r = LoadManifestFile(LocalFileSystem(), dir + "/" + n);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE(r->empty()) << n;
    for (const auto& su : *r) keys.push_back(su.Key());
    ++files;
  }
  EXPECT_GE(files, 3);
  auto all = LoadManifestDir(LocalFileSystem(), dir);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->size(), keys.size());
  for (const char* k : {"ciam/kratos", "ciam/athena", "default/app", "reporting/app"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
  for (const auto& su : *all) {
    if (su.name == "kratos") {
      EXPECT_EQ(su.migrations.engine, "ory");
      EXPECT_EQ(su.workload.kind, "ComposeService");
    }
    if (su.name == "athena") {
      EXPECT_EQ(su.migrations.engine, "drizzle");
    }
    if (su.name == "app") {
      EXPECT_EQ(su.migrations.engine, "sql");
    }
  }
}

// The Kubernetes examples (manifests/examples) use the same resource and must load too.
TEST(ExamplesTest, KubernetesExampleManifestsParse) {
  const char* src = std::getenv("SU_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  const std::string dir = std::string(src) + "/manifests/examples";
  if (!LocalFileSystem()->IsDir(dir)) GTEST_SKIP() << dir << " does not exist";
  auto all = LoadManifestDir(LocalFileSystem(), dir);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_FALSE(all->empty());
}

}  // namespace
}  // namespace su

namespace su {
namespace {

// spec.migrations.source: image keeps path as a folder inside the image (never resolved against
// the manifest's folder); configMap takes configMapRef instead of path; ory takes neither.
TEST(ManifestMigrationsSourceTest, DefaultIsControllerAndImagePathStaysAsWritten) {
  EXPECT_EQ(ParseOne(kMinimal).migrations.source, "controller");
  SchemaUpgrade su = ParseOne(Replace(kMinimal, "    path: migrations\n", "    source: image\n    path: /app/drizzle\n"));
  EXPECT_EQ(su.migrations.source, "image");
  EXPECT_EQ(su.migrations.path, "/app/drizzle");
  SchemaUpgrade cm = ParseOne(Replace(kMinimal, "    path: migrations\n",
                                      "    source: configMap\n    configMapRef: {name: app-migrations, keys: [a.sql]}\n"));
  EXPECT_EQ(cm.migrations.source, "configMap");
  EXPECT_EQ(cm.migrations.config_map_name, "app-migrations");
  EXPECT_EQ(cm.migrations.config_map_keys, std::vector<std::string>{"a.sql"});
}

TEST(ManifestMigrationsSourceTest, SourceChangesTheSpecHashOnlyWhenNotDefault) {
  SchemaUpgrade a = ParseOne(kMinimal);
  SchemaUpgrade b = ParseOne(Replace(kMinimal, "    path: migrations\n", "    source: controller\n    path: migrations\n"));
  EXPECT_EQ(ComputeSpecHash(a), ComputeSpecHash(b));
  SchemaUpgrade c = ParseOne(Replace(kMinimal, "    path: migrations\n", "    source: image\n    path: /migrations\n"));
  EXPECT_NE(ComputeSpecHash(a), ComputeSpecHash(c));
}

TEST(ManifestMigrationsSourceTest, BadSourcesNameTheField) {
  auto with = [](const std::string& lines) { return Replace(kMinimal, "    path: migrations\n", lines); };
  EXPECT_HAS(ErrorOf(with("    source: volume\n    path: m\n")), "m.yaml:11: spec.migrations.source: \"volume\" is not a source");
  EXPECT_HAS(ErrorOf(with("    source: image\n    path: migrations\n")),
             "spec.migrations.path: \"migrations\" is relative; with source image");
  EXPECT_HAS(ErrorOf(with("    source: image\n")), "spec.migrations.path");
  EXPECT_HAS(ErrorOf(with("    source: configMap\n")), "spec.migrations.configMapRef");
  EXPECT_HAS(ErrorOf(with("    source: configMap\n    path: m\n    configMapRef: {name: x}\n")),
             "spec.migrations.path: is not used with source configMap");
  EXPECT_HAS(ErrorOf(with("    path: m\n    configMapRef: {name: x}\n")),
             "spec.migrations.configMapRef: is only used with source configMap");
  EXPECT_HAS(ErrorOf(with("    source: configMap\n    configMapRef: {name: Bad_Name}\n")),
             "spec.migrations.configMapRef.name: \"Bad_Name\" is not a ConfigMap name");
  EXPECT_HAS(ErrorOf(with("    source: configMap\n    configMapRef: {name: x, keys: [meta/_journal.json]}\n")),
             "spec.migrations.configMapRef.keys: \"meta/_journal.json\" is not a ConfigMap key");
  EXPECT_HAS(ErrorOf(with("    source: configMap\n    configMapRef: {keys: [a.sql]}\n")),
             "spec.migrations.configMapRef.name");
  const std::string ory = Replace(Replace(kMinimal, "engine: sql", "engine: ory"), "    path: migrations\n",
                                  "    source: image\n") + "  image: 'x:1'\n";
  EXPECT_HAS(ErrorOf(ory), "spec.migrations.source: is only used by engines sql and drizzle");
}

// kMinimal plus a dependsOn section whose lines start at 13.
std::string WithDependsOn(const std::string& lines) { return kMinimal + "  dependsOn:\n" + lines; }

TEST(ManifestDependsOnTest, ParsesNamesInOrderAndHashesThemOnlyWhenSet) {
  SchemaUpgrade su = ParseOne(WithDependsOn("    - name: kratos\n    - {name: hydra}\n"));
  ASSERT_EQ(su.depends_on.size(), 2u);
  EXPECT_EQ(su.depends_on[0].name, "kratos");
  EXPECT_EQ(su.depends_on[1].name, "hydra");
  EXPECT_TRUE(ParseOne(kMinimal).depends_on.empty());
  // Existing specs keep their hash (and approvals); adding a dependency changes it.
  EXPECT_EQ(ComputeSpecHash(ParseOne(kMinimal + "  dependsOn: []\n")), ComputeSpecHash(ParseOne(kMinimal)));
  EXPECT_NE(su.spec_hash, ParseOne(kMinimal).spec_hash);
}

TEST(ManifestDependsOnTest, SelfReferenceIsRefusedNamingTheField) {
  EXPECT_HAS(ErrorOf(WithDependsOn("    - name: kratos\n    - name: app\n")),
             "m.yaml:14: spec.dependsOn[1].name: \"app\" is this SchemaUpgrade itself");
}

TEST(ManifestDependsOnTest, BadEntriesNameTheirIndex) {
  EXPECT_HAS(ErrorOf(WithDependsOn("    - name: kratos\n    - name: kratos\n")),
             "m.yaml:14: spec.dependsOn[1].name: \"kratos\" is listed twice");
  EXPECT_HAS(ErrorOf(WithDependsOn("    - name: Kratos_DB\n")),
             "m.yaml:13: spec.dependsOn[0].name: \"Kratos_DB\" is not a SchemaUpgrade name");
  EXPECT_HAS(ErrorOf(WithDependsOn("    - kratos\n")), "m.yaml:13: spec.dependsOn[0]: is ");
  EXPECT_HAS(ErrorOf(WithDependsOn("    - {nme: kratos}\n")), "spec.dependsOn[0].nme: unknown field; did you mean name?");
  EXPECT_HAS(ErrorOf(WithDependsOn("    - {}\n")), "spec.dependsOn[0].name: is required");
  EXPECT_HAS(ErrorOf(kMinimal + "  dependsOn: kratos\n"), "m.yaml:12: spec.dependsOn: is ");
}

TEST(ManifestDependsOnTest, KubernetesObjectsAreParsedByTheSameRules) {
  const std::string obj =
      R"({"apiVersion":"olympus.io/v1alpha1","kind":"SchemaUpgrade","metadata":{"name":"athena","namespace":"ciam"},)"
      R"("spec":{"targetVersion":"v2","database":{"dsnFrom":{"env":"A"}},"migrations":{"engine":"sql","path":"m"},)"
      R"("dependsOn":[{"name":"kratos"},{"name":"athena"}]}})";
  auto r = ParseResourceObject(obj, "SchemaUpgrade ciam/athena", "/base");
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.status().message(), "SchemaUpgrade ciam/athena: spec.dependsOn[1].name: \"athena\" is this SchemaUpgrade itself");
}

// kMinimal plus an upgradePath section whose lines start at 13.
std::string WithPath(const std::string& lines) { return kMinimal + "  upgradePath:\n" + lines; }

TEST(ManifestUpgradePathTest, ParsesReleasesAndStepThroughAndHashesThemOnlyWhenSet) {
  SchemaUpgrade su = ParseOne(WithPath("    - {version: v1.1.0, migrationsUpTo: \"3\"}\n    - version: v1.5.0\n"));
  ASSERT_EQ(su.upgrade_path.size(), 2u);
  EXPECT_EQ(su.upgrade_path[0].version, "v1.1.0");
  EXPECT_EQ(su.upgrade_path[0].migrations_up_to, "3");
  EXPECT_EQ(su.upgrade_path[1].migrations_up_to, "");
  EXPECT_FALSE(su.policy.step_through);
  EXPECT_EQ(ComputeSpecHash(ParseOne(kMinimal + "  upgradePath: []\n")), ComputeSpecHash(ParseOne(kMinimal)));
  EXPECT_NE(su.spec_hash, ParseOne(kMinimal).spec_hash);
  SchemaUpgrade step = ParseOne(WithPath("    - {version: v1.1.0, migrationsUpTo: \"3\"}\n") +
                                "  policy: {stepThrough: true, onFailure: rollback}\n");
  EXPECT_TRUE(step.policy.step_through);
  EXPECT_EQ(step.policy.on_failure, OnFailure::kRollback);
}

TEST(ManifestUpgradePathTest, BadEntriesNameTheirIndexAndField) {
  EXPECT_HAS(ErrorOf(WithPath("    - version: v1.5.0\n    - version: v1.1.0\n")),
             "m.yaml:14: spec.upgradePath[1].version: \"v1.1.0\" comes after \"v1.5.0\" but is older");
  EXPECT_HAS(ErrorOf(WithPath("    - version: v1.5.0\n    - version: 1.5.0\n")), "is listed twice");
  EXPECT_HAS(ErrorOf(WithPath("    - {versoin: v1.1.0}\n")),
             "spec.upgradePath[0].versoin: unknown field; did you mean version?");
  EXPECT_HAS(ErrorOf(WithPath("    - {version: 'v1 1'}\n")), "spec.upgradePath[0].version: \"v1 1\" is not a valid version");
  EXPECT_HAS(ErrorOf(WithPath("    - {version: v1, migrationsUpTo: \"9\"}\n    - {version: v2, migrationsUpTo: \"3\"}\n")),
             "spec.upgradePath[1].migrationsUpTo: \"3\" is older than \"9\"");
  EXPECT_HAS(ErrorOf(kMinimal + "  policy: {stepTrough: true}\n"), "spec.policy.stepTrough: unknown field; did you mean stepThrough?");
}

TEST(ManifestUpgradePathTest, StepThroughFromAControllerFolderNeedsEachReleasesMigrations) {
  EXPECT_HAS(ErrorOf(WithPath("    - version: v1.1.0\n") + "  policy: {stepThrough: true}\n"),
             "spec.upgradePath[0].migrationsUpTo: is required");
  EXPECT_HAS(ErrorOf(kMinimal + "  policy: {stepThrough: true}\n"),
             "spec.policy.stepThrough: is true but spec.upgradePath lists no release");
  EXPECT_HAS(ErrorOf(kMinimal + "  policy: {onFailure: rollbak}\n"), "rollback");
}

}  // namespace
}  // namespace su
