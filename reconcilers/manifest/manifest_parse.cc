// ParseManifests: YAML text -> validated SchemaUpgrade structs (rules documented in manifest.h).
// yaml-cpp exceptions are caught here, at the module edge, and become errors naming file:line.
#include <sys/stat.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <optional>
#include <set>
#include <tuple>

#include <yaml-cpp/depthguard.h>

#include "api/upgrade_path.h"
#include "reconcilers/base/duration.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/manifest/manifest.h"
#include "reconcilers/manifest/yaml_fields.h"

namespace su {
namespace {

using manifest_internal::Errors;
using manifest_internal::LineOf;
using manifest_internal::MapReader;

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsDns1123Label(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnumLower(s.front()) || !IsAlnumLower(s.back())) return false;
  for (char c : s) {
    if (!IsAlnumLower(c) && c != '-') return false;
  }
  return true;
}

bool IsDns1123Subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!IsDns1123Label(part)) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

// A ConfigMap data key: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..".
bool IsConfigMapKey(const std::string& s) {
  if (s.empty() || s.size() > 253 || s == "." || s == "..") return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

bool IsEnvName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool HasSpace(const std::string& s) {
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

// An OCI tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. targetVersion becomes the tag of the default image.
bool IsImageTag(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  if (!(std::isalnum(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsHhMm(const std::string& s) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (int i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  return h <= 23 && m <= 59;
}

bool IsTimeZoneName(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' && c != '+') {
      return false;
    }
  }
  return true;
}

// True when the system's tz database ($TZDIR or /usr/share/zoneinfo) has the zone: the same files
// the maintenance-window check reads, so a zone accepted here also works at apply time.
bool IsKnownTimeZone(const std::string& s) {
  if (s == "UTC" || s == "Etc/UTC") return true;
  if (s.empty() || s[0] == '/' || s.find("..") != std::string::npos) return false;
  const char* dir = std::getenv("TZDIR");
  std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + s;
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// "mon", "Monday", "MON" -> "Mon"; "" when not a day.
std::string NormalizeDay(const std::string& s) {
  static const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static const char* kLong[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 7; ++i) {
    std::string shortl = kDays[i];
    for (char& c : shortl) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == shortl || lower == kLong[i]) return kDays[i];
  }
  return "";
}

// Quoted for enum errors only; free-text fields are never echoed (they may hold a secret).
std::string Q(const std::string& s) { return "\"" + (s.size() > 64 ? s.substr(0, 64) + "..." : s) + "\""; }

class DocumentParser {
 public:
  DocumentParser(Errors* errs, const std::string& base_dir) : errs_(errs), base_dir_(base_dir) {}

  std::optional<SchemaUpgrade> Parse(const YAML::Node& doc) {
    const int line = LineOf(doc);
    const size_t before = errs_->size();
    if (!doc.IsMap()) {
      errs_->Add(line, "", "document is " + manifest_internal::DescribeNode(doc) +
                               "; expected a SchemaUpgrade resource (apiVersion, kind, metadata, spec)");
      return std::nullopt;
    }
    // status is written by the controller; a manifest exported with it is still valid input.
    MapReader top(errs_, doc, "", line, {"apiVersion", "kind", "metadata", "spec"}, {"status"});
    std::string api, kind;
    if (!top.String("apiVersion", &api) && !top.Has("apiVersion")) {
      top.Required("apiVersion", std::string(kApiVersion));
    } else if (top.Has("apiVersion") && !api.empty() && api != kApiVersion) {
      top.Error("apiVersion", Q(api) + " is not supported; expected " + kApiVersion);
    }
    if (!top.String("kind", &kind) && !top.Has("kind")) {
      top.Required("kind", std::string(kKind));
    } else if (top.Has("kind") && !kind.empty() && kind != kKind) {
      top.Error("kind", Q(kind) + " is not supported; expected " + kKind);
      return std::nullopt;  // another resource: its fields would only add noise
    }

    SchemaUpgrade su;
    su.source_line = line;
    MapReader meta = top.Map("metadata", {"name", "namespace", "generation", "labels", "annotations"},
                             // Set by a Kubernetes API server; harmless in an exported manifest.
                             {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generateName",
                              "deletionGracePeriodSeconds", "managedFields", "finalizers",
                              "ownerReferences", "selfLink"});
    if (!top.Has("metadata")) top.Required("metadata", "a mapping with at least name");
    ParseMetadata(meta, &su);

    MapReader spec = top.Map("spec", {"service", "targetVersion", "image", "workload", "database",
                                      "migrations", "policy", "dependsOn", "upgradePath"});
    if (!top.Has("spec")) {
      top.Required("spec", "a mapping with targetVersion, database and migrations");
    } else {
      ParseSpec(spec, &su);
    }
    if (errs_->size() != before) return std::nullopt;

    su.spec_hash = ComputeSpecHash(su);
    // The spec field wins over the annotation: it is the more deliberate, reviewable place.
    auto ann = su.annotations.find("olympus.io/approved-plan-hash");
    if (su.policy.approved_plan_hash.empty() && ann != su.annotations.end()) {
      su.policy.approved_plan_hash = ann->second;
    }
    auto contract_ann = su.annotations.find("olympus.io/approve-contract");
    if (su.policy.contract_approved_hash.empty() && contract_ann != su.annotations.end()) {
      su.policy.contract_approved_hash = contract_ann->second;
    }
    return su;
  }

 private:
  std::string Resolve(const std::string& p) const { return ResolvePath(base_dir_, p); }

  void ParseMetadata(MapReader& m, SchemaUpgrade* su) {
    if (m.String("name", &su->name)) {
      if (!IsDns1123Label(su->name)) {
        m.Error("name", Q(su->name) + " is not a DNS-1123 label; expected at most 63 characters of "
                        "a-z, 0-9 and '-', starting and ending with a letter or digit");
      }
    } else if (!m.Has("name")) {
      m.Required("name", "a DNS-1123 label such as kratos");
    }
    if (m.String("namespace", &su->namespace_) && !IsDns1123Label(su->namespace_)) {
      m.Error("namespace", Q(su->namespace_) + " is not a DNS-1123 label; expected e.g. ciam");
    }
    long long gen = 0;
    if (m.Int("generation", &gen)) {
      if (gen < 1) m.Error("generation", "is " + std::to_string(gen) + "; expected an integer >= 1");
      else su->generation = gen;
    }
    m.StringMap("labels", &su->labels);
    m.StringMap("annotations", &su->annotations);
  }

  void ParseSpec(MapReader& spec, SchemaUpgrade* su) {
    if (!spec.String("service", &su->service) && !spec.Has("service")) su->service = su->name;
    if (spec.String("targetVersion", &su->target_version)) {
      if (!IsImageTag(su->target_version)) {
        spec.Error("targetVersion", Q(su->target_version) +
                                        " is not a valid version; expected an image tag such as "
                                        "v1.2.0 (letters, digits, '_', '.', '-'; at most 128)");
      }
    } else if (!spec.Has("targetVersion")) {
      spec.Required("targetVersion", "the version to upgrade to, e.g. v1.2.0");
    }
    if (spec.String("image", &su->image) && HasSpace(su->image)) {
      spec.Error("image", "contains whitespace; expected an image reference such as oryd/kratos:v1.2.0");
    }
    ParseWorkload(spec, su);
    ParseDatabase(spec, su);
    ParseMigrations(spec, su);
    ParsePolicy(spec, su);
    ParseDependsOn(spec, su);
    ParseUpgradePath(spec, su);
    CrossCheck(spec, su);
  }

  // spec.upgradePath: [{version: v1.1.0, migrationsUpTo: "3"}, ...]: releases an upgrade must not
  // jump over (docs/upgrade-paths.md), in ascending order (CompareReleaseVersions), no duplicates.
  // With policy.stepThrough and a folder on the controller (sql / drizzle), each entry says which
  // migrations its release needs (migrationsUpTo): the folder alone cannot tell.
  void ParseUpgradePath(MapReader& spec, SchemaUpgrade* su) {
    std::vector<MapReader> items = spec.MapList("upgradePath", {"version", "migrationsUpTo"});
    const bool needs_up_to = su->policy.step_through && su->migrations.engine != "ory" &&
                             su->migrations.source == kMigrationSourceController;
    for (size_t i = 0; i < items.size(); ++i) {
      MapReader& item = items[i];
      UpgradePathEntry e;
      if (!item.String("version", &e.version)) {
        if (!item.Has("version")) item.Required("version", "a release that must not be skipped, e.g. v1.1.0");
        continue;
      }
      if (!IsImageTag(e.version)) {
        item.Error("version", Q(e.version) + " is not a valid version; expected an image tag such as v1.1.0");
        continue;
      }
      if (item.String("migrationsUpTo", &e.migrations_up_to) && e.migrations_up_to.empty()) {
        item.Error("migrationsUpTo", "is empty; expected the last migration version release " + e.version + " needs");
      } else if (needs_up_to && !item.Has("migrationsUpTo")) {
        item.Required("migrationsUpTo", "the last migration version release " + e.version +
                                            " needs: policy.stepThrough applies the controller's folder up to it "
                                            "before bumping to " + e.version);
      }
      if (!su->upgrade_path.empty()) {
        const UpgradePathEntry& prev = su->upgrade_path.back();
        int c = CompareReleaseVersions(prev.version, e.version);
        if (c == 0) {
          item.Error("version", Q(e.version) + " is listed twice in spec.upgradePath; expected each release once");
          continue;
        }
        if (c > 0) {
          item.Error("version", Q(e.version) + " comes after " + Q(prev.version) +
                                    " but is older; expected spec.upgradePath in ascending order");
          continue;
        }
        if (!e.migrations_up_to.empty() && !prev.migrations_up_to.empty() &&
            CompareReleaseVersions(e.migrations_up_to, prev.migrations_up_to) < 0) {
          item.Error("migrationsUpTo", Q(e.migrations_up_to) + " is older than " + Q(prev.migrations_up_to) +
                                           " of the earlier release " + prev.version +
                                           "; expected migration versions that grow along the path");
          continue;
        }
      }
      su->upgrade_path.push_back(std::move(e));
    }
    if (su->policy.step_through && items.empty()) {
      errs_->Add(spec.KeyLine("policy"), "spec.policy.stepThrough",
                 "is true but spec.upgradePath lists no release to step through; expected spec.upgradePath, "
                 "or remove policy.stepThrough");
    }
  }

  // spec.dependsOn: [{name: kratos}, ...]: SchemaUpgrades of the same namespace. A name listed
  // twice or naming this resource itself is an error here; cycles through other resources are
  // found by the reconciler, which sees them all (reconcilers/schemaupgrade/dependencies.h).
  void ParseDependsOn(MapReader& spec, SchemaUpgrade* su) {
    std::vector<MapReader> items = spec.MapList("dependsOn", {"name"});
    for (size_t i = 0; i < items.size(); ++i) {
      MapReader& item = items[i];
      DependencyRef dep;
      if (!item.String("name", &dep.name)) {
        if (!item.Has("name")) item.Required("name", "the name of another SchemaUpgrade in this namespace, e.g. kratos");
        continue;
      }
      if (!IsDns1123Label(dep.name)) {
        item.Error("name", Q(dep.name) + " is not a SchemaUpgrade name; expected a DNS-1123 label such as kratos");
        continue;
      }
      if (dep.name == su->name) {
        item.Error("name", Q(dep.name) + " is this SchemaUpgrade itself; an upgrade cannot wait for itself: "
                           "expected the name of another SchemaUpgrade, or remove the entry");
        continue;
      }
      bool dup = false;
      for (const auto& d : su->depends_on) dup |= d.name == dep.name;
      if (dup) {
        item.Error("name", Q(dep.name) + " is listed twice in spec.dependsOn; expected each dependency once");
        continue;
      }
      su->depends_on.push_back(std::move(dep));
    }
  }

  void ParseWorkload(MapReader& spec, SchemaUpgrade* su) {
    MapReader w = spec.Map("workload", {"kind", "name", "container", "composeFile", "service"});
    if (!w.present()) return;  // migrations only: no image bump
    WorkloadRef& ref = su->workload;
    const std::string kinds = "one of Deployment, StatefulSet, ComposeService";
    if (w.String("kind", &ref.kind)) {
      if (ref.kind != "Deployment" && ref.kind != "StatefulSet" && ref.kind != "ComposeService") {
        w.Error("kind", Q(ref.kind) + " is not a workload kind; expected " + kinds);
        ref.kind.clear();
      }
    } else if (!w.Has("kind")) {
      w.Required("kind", kinds);
    }
    if (w.String("name", &ref.name)) {
      bool k8s = ref.kind == "Deployment" || ref.kind == "StatefulSet";
      if (k8s && !IsDns1123Subdomain(ref.name)) {
        w.Error("name", Q(ref.name) + " is not a Kubernetes object name; expected a DNS-1123 "
                        "subdomain (a-z, 0-9, '-', '.')");
      } else if (HasSpace(ref.name)) {
        w.Error("name", "contains whitespace; expected a container or compose service name");
      }
    } else if (!w.Has("name")) {
      w.Required("name", "the workload's name (Deployment/StatefulSet name or compose container name)");
    }
    w.String("container", &ref.container);
    w.String("composeFile", &ref.compose_file);
    w.String("service", &ref.service);
    if (ref.kind == "ComposeService") {
      if (!ref.container.empty()) {
        w.Error("container", "is only used by Deployment and StatefulSet; expected it left out for "
                             "ComposeService (use service for the compose service key)");
      }
      // composeFile may be left to the CLI's --compose default; the reconciler refuses a
      // ComposeService that has neither.
      if (!ref.compose_file.empty()) ref.compose_file = Resolve(ref.compose_file);
      if (ref.service.empty()) ref.service = ref.name;
    } else if (!ref.kind.empty()) {
      if (w.Has("composeFile")) w.Error("composeFile", "is only used by kind ComposeService; expected it left out for " + ref.kind);
      if (w.Has("service")) w.Error("service", "is only used by kind ComposeService; expected it left out for " + ref.kind);
    }
  }

  void ParseDatabase(MapReader& spec, SchemaUpgrade* su) {
    MapReader db = spec.Map("database", {"dsnFrom"});
    ParseDsnFrom(db, &su->dsn);
  }

  // <parent>.dsnFrom: exactly one of env, file, secretKeyRef (spec.database, policy.rehearseOn).
  void ParseDsnFrom(MapReader& db, DsnSource* out) {
    const std::string one_of = "exactly one of env: NAME, file: PATH, secretKeyRef: {name, key}";
    MapReader from = db.Map("dsnFrom", {"env", "file", "secretKeyRef"});
    if (!from.present()) {
      if (!db.Has("dsnFrom")) db.Required("dsnFrom", one_of);
      return;
    }
    int n = from.Has("env") + from.Has("file") + from.Has("secretKeyRef");
    if (n == 0) {
      errs_->Add(from.line(), db.Path("dsnFrom"), "names no source; expected " + one_of);
      return;
    }
    if (n > 1) {
      errs_->Add(from.line(), db.Path("dsnFrom"), "sets " + std::to_string(n) + " sources; expected " + one_of);
      return;
    }
    DsnSource& d = *out;
    if (from.Has("env")) {
      d.kind = DsnSource::Kind::kEnv;
      std::string name;
      if (from.String("env", &name)) {
        if (!IsEnvName(name)) {
          // Someone may have pasted the DSN itself here: never echo it, and scrub it from any
          // later output (only when DSN-shaped: registering plain words would mangle logs).
          if (name.find("://") != std::string::npos || name.find('=') != std::string::npos) {
            RegisterDsnSecrets(name);
          }
          from.Error("env", "is not an environment variable name (value not shown: it may be a "
                            "secret); expected the variable's name, e.g. KRATOS_DSN, not the DSN");
        } else {
          d.env = name;
        }
      }
    } else if (from.Has("file")) {
      d.kind = DsnSource::Kind::kFile;
      if (from.String("file", &d.file)) d.file = Resolve(d.file);
    } else {
      d.kind = DsnSource::Kind::kSecretKeyRef;
      MapReader ref = from.Map("secretKeyRef", {"name", "key"});
      if (ref.present()) {
        if (!ref.String("name", &d.secret_name) && !ref.Has("name")) ref.Required("name", "the Secret's name");
        if (!ref.String("key", &d.secret_key) && !ref.Has("key")) ref.Required("key", "the key inside the Secret, e.g. dsn");
      }
    }
  }

  void ParseMigrations(MapReader& spec, SchemaUpgrade* su) {
    MapReader m = spec.Map("migrations", {"engine", "command", "statusCommand", "path", "schema", "source",
                                          "configMapRef"});
    MigrationsSpec& ms = su->migrations;
    const std::string engines = "one of ory, drizzle, sql";
    if (!m.present()) {
      if (!spec.Has("migrations")) spec.Required("migrations", "a mapping with engine (" + engines + ")");
      return;
    }
    if (m.String("engine", &ms.engine)) {
      if (ms.engine != "ory" && ms.engine != "drizzle" && ms.engine != "sql") {
        m.Error("engine", Q(ms.engine) + " is not an engine; expected " + engines);
        ms.engine.clear();
      }
    } else if (!m.Has("engine")) {
      m.Required("engine", engines);
    }
    m.StringList("command", &ms.command);
    m.StringList("statusCommand", &ms.status_command);
    m.String("path", &ms.path);
    m.String("schema", &ms.schema);
    const std::string sources = "one of controller (path is a folder on the controller's file system), image (path "
                                "is a folder inside the target image), configMap (the files are configMapRef's keys)";
    if (m.String("source", &ms.source)) {
      if (ms.source != kMigrationSourceController && ms.source != kMigrationSourceImage &&
          ms.source != kMigrationSourceConfigMap) {
        m.Error("source", Q(ms.source) + " is not a source; expected " + sources);
        ms.source = kMigrationSourceController;
      }
    }
    MapReader cm = m.Map("configMapRef", {"name", "keys"});
    if (cm.present()) {
      if (cm.String("name", &ms.config_map_name)) {
        if (!IsDns1123Subdomain(ms.config_map_name)) {
          cm.Error("name", Q(ms.config_map_name) + " is not a ConfigMap name; expected a DNS-1123 subdomain "
                           "(lower-case letters, digits, '-' and '.')");
        }
      } else if (!cm.Has("name")) {
        cm.Required("name", "the ConfigMap's name, in the SchemaUpgrade's namespace");
      }
      if (cm.StringList("keys", &ms.config_map_keys)) {
        for (const auto& k : ms.config_map_keys) {
          if (!IsConfigMapKey(k)) {
            cm.Error("keys", Q(k) + " is not a ConfigMap key; expected letters, digits, '-', '_' and '.'");
            break;
          }
        }
      }
    }
    if (ms.engine == "ory") {
      if (ms.command.empty() && !m.Has("command")) ms.command = {"migrate", "sql", "up", "-e", "--yes"};
      if (m.Has("path")) m.Error("path", "is only used by engines sql and drizzle; expected it left out for ory (its migrations are inside the image)");
      if (m.Has("schema")) m.Error("schema", "is only used by engines sql and drizzle; expected it left out for ory");
      if (m.Has("source")) m.Error("source", "is only used by engines sql and drizzle; expected it left out for ory (it runs the target image's own migrator)");
      if (m.Has("configMapRef")) m.Error("configMapRef", "is only used by engines sql and drizzle with source configMap; expected it left out for ory");
    } else if (!ms.engine.empty()) {
      for (const char* f : {"command", "statusCommand"}) {
        if (m.Has(f)) m.Error(f, std::string("is only used by engine ory; expected it left out for ") + ms.engine);
      }
      if (ms.source == kMigrationSourceConfigMap) {
        if (m.Has("path")) {
          m.Error("path", "is not used with source configMap (the files are the ConfigMap's keys); expected it left "
                          "out, or source controller / image");
        }
        if (!m.Has("configMapRef")) {
          m.Required("configMapRef", "{name: <ConfigMap>} holding the migration files (source configMap)");
        }
      } else {
        if (m.Has("configMapRef")) {
          m.Error("configMapRef", "is only used with source configMap; expected source: configMap, or no "
                                  "configMapRef");
        }
        if (!ms.path.empty()) {
          if (ms.source == kMigrationSourceImage) {
            // A folder inside the image: never resolved against the manifest's folder.
            if (ms.path[0] != '/') {
              m.Error("path", Q(ms.path) + " is relative; with source image it is a folder inside the target "
                              "image: expected an absolute path, e.g. /app/drizzle");
            }
          } else {
            ms.path = Resolve(ms.path);
          }
        } else if (!m.Has("path")) {
          m.Required("path", ms.source == kMigrationSourceImage
                                 ? "the migrations folder inside the target image for engine " + ms.engine +
                                       ", e.g. /app/drizzle"
                                 : "the migrations folder for engine " + ms.engine + ", e.g. migrations/");
        }
      }
      if (ms.engine == "sql" && ms.schema.empty()) ms.schema = "public";
    }
  }

  // policy.backup.pvc {claimName, subPath}: where the Kubernetes backup Job writes.
  void ParseBackupClaim(MapReader& bk, PolicySpec* pol) {
    MapReader pvc = bk.Map("pvc", {"claimName", "subPath"});
    if (!pvc.present()) return;
    if (pvc.String("claimName", &pol->backup_pvc_claim)) {
      if (!IsDns1123Subdomain(pol->backup_pvc_claim)) {
        pvc.Error("claimName", Q(pol->backup_pvc_claim) + " is not a PersistentVolumeClaim name; expected a "
                               "DNS-1123 subdomain such as db-backups");
        pol->backup_pvc_claim.clear();
      }
    } else {
      pvc.Required("claimName", "the PersistentVolumeClaim the backups are written to, e.g. db-backups");
    }
    if (pvc.String("subPath", &pol->backup_pvc_sub_path)) {
      const std::string& sp = pol->backup_pvc_sub_path;
      bool dotdot = sp == ".." || sp.rfind("../", 0) == 0 || sp.find("/../") != std::string::npos ||
                    (sp.size() >= 3 && sp.compare(sp.size() - 3, 3, "/..") == 0);
      if (sp.empty() || sp.front() == '/' || dotdot || sp.find('\0') != std::string::npos) {
        pvc.Error("subPath", Q(sp) + " is not a relative folder inside the claim; expected e.g. backups/kratos "
                             "(no leading /, no ..)");
        pol->backup_pvc_sub_path.clear();
      }
      while (!pol->backup_pvc_sub_path.empty() && pol->backup_pvc_sub_path.back() == '/') {
        pol->backup_pvc_sub_path.pop_back();
      }
    }
  }

  void ParsePolicy(MapReader& spec, SchemaUpgrade* su) {
    MapReader p = spec.Map("policy", {"dryRun", "approval", "backup", "maintenanceWindow", "lockTimeout",
                                      "statementTimeout", "lockWait", "retries", "onFailure",
                                      "restoreBackup", "acceptDrift", "failOnLintErrors", "blockedSessionLimit",
                                      "lockWatchAfter", "verify", "allowDowngrade", "stepThrough", "rehearse", "contract",
                                      "rehearseOn"});
    PolicySpec& pol = su->policy;
    p.Bool("dryRun", &pol.dry_run);
    MapReader ap = p.Map("approval", {"required", "planHash"});
    ap.Bool("required", &pol.approval_required);
    ap.String("planHash", &pol.approved_plan_hash);
    MapReader bk = p.Map("backup", {"enabled", "dir", "retention", "pvc"});
    bk.Bool("enabled", &pol.backup_enabled);
    if (bk.String("dir", &pol.backup_dir)) pol.backup_dir = Resolve(pol.backup_dir);
    long long retention = 0;
    if (bk.Int("retention", &retention)) {
      if (retention < 1 || retention > 100000) {
        bk.Error("retention", "is " + std::to_string(retention) +
                                  "; expected how many of this resource's newest backups to keep (1 or more), "
                                  "or no retention field to keep them all");
      } else {
        pol.backup_retention = static_cast<int>(retention);
      }
    }
    ParseBackupClaim(bk, &pol);
    ParseWindow(p, &pol);
    // Both go to PostgreSQL (SET lock_timeout / statement_timeout), which takes at most INT_MAX ms.
    for (auto [key, out, guc] : {std::tuple{"lockTimeout", &pol.lock_timeout, "lock_timeout"},
                                 std::tuple{"statementTimeout", &pol.statement_timeout, "statement_timeout"}}) {
      std::chrono::milliseconds d{0};
      if (!p.Duration(key, &d)) continue;
      if (d.count() > INT_MAX) {
        p.Error(key, "is " + FormatDuration(d) + "; PostgreSQL's " + guc + " takes at most 2147483647ms "
                         "(about 596h); expected a shorter duration, or 0 for no limit");
      } else {
        *out = d;
      }
    }
    p.Duration("lockWait", &pol.lock_wait);
    MapReader rt = p.Map("retries", {"limit", "backoff"});
    long long limit = 0;
    if (rt.Int("limit", &limit)) {
      if (limit < 0 || limit > INT_MAX) {
        rt.Error("limit", "is " + std::to_string(limit) + "; expected an integer >= 0");
      } else {
        pol.retries.limit = static_cast<int>(limit);
      }
    }
    MapReader bo = rt.Map("backoff", {"initial", "max"});
    bool has_initial = bo.Duration("initial", &pol.retries.initial_backoff);
    bool has_max = bo.Duration("max", &pol.retries.max_backoff);
    if ((has_initial || has_max) && pol.retries.initial_backoff > pol.retries.max_backoff) {
      bo.Error(has_max ? "max" : "initial", "backoff initial is longer than max; expected initial <= max");
    }
    std::string on_failure;
    on_failure_line_ = p.KeyLine("onFailure");
    if (p.String("onFailure", &on_failure)) {
      if (on_failure == "halt") pol.on_failure = OnFailure::kHalt;
      else if (on_failure == "rollbackImage") pol.on_failure = OnFailure::kRollbackImage;
      else if (on_failure == "restoreBackup") pol.on_failure = OnFailure::kRestoreBackup;
      else if (on_failure == "runDown") pol.on_failure = OnFailure::kRunDown;
      else if (on_failure == "rollback") pol.on_failure = OnFailure::kRollback;
      else p.Error("onFailure", Q(on_failure) + " is not a failure policy; expected one of halt, rollbackImage, restoreBackup, runDown, rollback");
    }
    MapReader rb = p.Map("restoreBackup", {"allowDataLoss"});
    rb.Bool("allowDataLoss", &pol.restore_allow_data_loss);
    if (rb.present() && p.Has("onFailure") && pol.on_failure != OnFailure::kRestoreBackup) {
      p.Error("restoreBackup", "configures onFailure restoreBackup, but onFailure is " +
                                   std::string(OnFailureName(pol.on_failure)) +
                                   "; expected onFailure: restoreBackup, or remove policy.restoreBackup");
    } else if (rb.present() && !p.Has("onFailure")) {
      p.Error("restoreBackup", "configures onFailure restoreBackup, but onFailure is not set (default halt); "
                               "expected onFailure: restoreBackup, or remove policy.restoreBackup");
    }
    p.StringList("acceptDrift", &pol.accept_drift);
    p.Bool("failOnLintErrors", &pol.fail_on_lint_errors);
    p.Bool("allowDowngrade", &pol.allow_downgrade);
    p.Bool("stepThrough", &pol.step_through);
    p.Bool("rehearse", &pol.rehearse);
    MapReader ro = p.Map("rehearseOn", {"dsnFrom"});
    if (ro.present()) {
      pol.rehearse_on_set = true;
      ParseDsnFrom(ro, &pol.rehearse_on);
    }
    p.Duration("blockedSessionLimit", &pol.blocked_session_limit);
    if (p.Duration("lockWatchAfter", &pol.lock_watch_after) && pol.lock_watch_after > std::chrono::minutes(10)) {
      p.Error("lockWatchAfter", "is longer than 10m; the watch would miss most blocking; expected a short duration "
                                "such as 1s (0 opens the watch with the migration)");
    }
    MapReader vf = p.Map("verify", {"settle"});
    vf.Duration("settle", &pol.verify_settle);
    MapReader ct = p.Map("contract", {"after", "approvalRequired", "planHash"});
    if (ct.Duration("after", &pol.contract_after) && pol.contract_after > std::chrono::hours(24 * 90)) {
      ct.Error("after", "is longer than 90 days (2160h); expected the soak before contract migrations run, "
                        "e.g. 24h (0 runs them once the new version is verified)");
    }
    ct.Bool("approvalRequired", &pol.contract_approval_required);
    ct.String("planHash", &pol.contract_approved_hash);
  }

  void ParseWindow(MapReader& p, PolicySpec* pol) {
    MapReader w = p.Map("maintenanceWindow", {"start", "end", "timeZone", "days"});
    if (!w.present()) return;
    MaintenanceWindow win;
    win.time_zone = "UTC";
    for (const char* f : {"start", "end"}) {
      std::string v;
      if (w.String(f, &v)) {
        if (!IsHhMm(v)) w.Error(f, Q(v) + " is not a time of day; expected HH:MM in 24-hour form, e.g. \"02:00\"");
        (std::string(f) == "start" ? win.start : win.end) = v;
      } else if (!w.Has(f)) {
        w.Required(f, "a time of day HH:MM (24-hour), e.g. \"02:00\"");
      }
    }
    if (!win.start.empty() && win.start == win.end) {
      w.Error("end", "equals start; expected a window of non-zero length (end before start wraps past midnight)");
    }
    if (w.String("timeZone", &win.time_zone)) {
      if (!IsTimeZoneName(win.time_zone)) {
        w.Error("timeZone", Q(win.time_zone) + " is not a time zone name; expected an IANA name such as UTC or Europe/Berlin");
      } else if (!IsKnownTimeZone(win.time_zone)) {
        w.Error("timeZone", Q(win.time_zone) + " is not a time zone this system knows (no such zone in the tz "
                            "database); expected an IANA name such as UTC or Europe/Berlin");
      }
    }
    std::vector<std::string> days;
    if (w.StringList("days", &days)) {
      for (const auto& d : days) {
        std::string n = NormalizeDay(d);
        if (n.empty()) {
          w.Error("days", Q(d) + " is not a day; expected Mon, Tue, Wed, Thu, Fri, Sat or Sun");
        } else {
          win.days.push_back(n);
        }
      }
    }
    pol->window = win;
  }

  // Rules that span sections; reported at the field whose value cannot work.
  void CrossCheck(MapReader& spec, SchemaUpgrade* su) {
    const PolicySpec& pol = su->policy;
    const std::string path = "spec.policy.onFailure";
    auto p_error = [&](const std::string& what) { errs_->Add(on_failure_line_, path, what); };
    if (pol.on_failure == OnFailure::kRunDown && !su->migrations.engine.empty() && su->migrations.engine != "sql") {
      p_error("runDown needs .down.sql files, which only engine sql has; expected halt, "
                           "rollbackImage or restoreBackup for engine " + su->migrations.engine);
    }
    if (pol.on_failure == OnFailure::kRestoreBackup && !pol.backup_enabled) {
      p_error("restoreBackup needs a backup; expected policy.backup.enabled: true");
    }
    if (pol.on_failure == OnFailure::kRollback && !pol.backup_enabled && !su->migrations.engine.empty() &&
        su->migrations.engine != "sql") {
      p_error("rollback puts the schema back from the pre-upgrade backup for engine " + su->migrations.engine +
              " (only engine sql has down files); expected policy.backup.enabled: true");
    }
    if (pol.on_failure == OnFailure::kRollbackImage && su->workload.kind.empty() && !spec.Has("workload")) {
      p_error("rollbackImage needs a workload whose image was bumped; expected spec.workload, or halt");
    }
    if (su->migrations.engine == "ory" && su->image.empty() && !spec.Has("workload") && !spec.Has("image")) {
      spec.Required("image", "the target image to run the ory migrator from (e.g. oryd/kratos:v1.2.0), "
                             "since there is no spec.workload to derive it from");
    }
  }

  Errors* errs_;
  std::string base_dir_;
  int on_failure_line_ = 0;
};

}  // namespace

namespace {

Result<std::vector<SchemaUpgrade>> ParseDocuments(const std::string& text, const std::string& filename,
                                                  const std::string& base_dir, Errors* errs_out) {
  Errors& errs = *errs_out;
  std::vector<SchemaUpgrade> out;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    DocumentParser parser(&errs, base_dir);
    std::map<std::string, int> seen;  // key -> line
    for (const YAML::Node& doc : docs) {
      if (!doc.IsDefined() || doc.IsNull()) continue;  // empty document (---, comments only)
      std::optional<SchemaUpgrade> su = parser.Parse(doc);
      if (!su) continue;
      su->source_file = filename;
      auto [it, fresh] = seen.emplace(su->Key(), su->source_line);
      if (!fresh) {
        errs.Add(su->source_line, "metadata.name",
                 su->Key() + " is also defined at line " + std::to_string(it->second) +
                     "; expected each namespace/name once");
        continue;
      }
      out.push_back(std::move(*su));
    }
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's message for this one is "bad file", which sends people looking at the wrong thing.
    int line = e.mark.line < 0 ? 0 : e.mark.line + 1;
    errs.Add(line, "", "YAML nested too deeply (more than " + std::to_string(e.depth() - 1) +
                           " levels of [ ] or { }); expected a SchemaUpgrade manifest, which nests a few levels");
  } catch (const YAML::Exception& e) {
    int line = e.mark.line < 0 ? 0 : e.mark.line + 1;
    errs.Add(line, "", "YAML syntax error: " + e.msg + "; expected a valid YAML document");
  } catch (const std::exception& e) {
    errs.Add(0, "", std::string("cannot read YAML: ") + e.what());
  }
  if (!errs.empty()) return errs.ToStatus();
  return out;
}

}  // namespace

Result<std::vector<SchemaUpgrade>> ParseManifests(const std::string& text, const std::string& filename,
                                                  const std::string& base_dir) {
  Errors errs(filename);
  return ParseDocuments(text, filename, base_dir, &errs);
}

Result<SchemaUpgrade> ParseResourceObject(const std::string& json, const std::string& origin,
                                          const std::string& base_dir) {
  Errors errs(origin, /*with_lines=*/false);
  auto parsed = ParseDocuments(json, origin, base_dir, &errs);
  if (!parsed.ok()) return parsed.status();
  if (parsed->size() != 1) {
    return Status::Invalid(origin + ": expected one SchemaUpgrade object, got " + std::to_string(parsed->size()));
  }
  SchemaUpgrade su = std::move(parsed->front());
  su.source_line = 0;
  return su;
}

}  // namespace su
