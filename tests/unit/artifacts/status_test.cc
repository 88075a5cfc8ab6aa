// The status the reconciler writes (StatusToJson) must fit the CRD's status schema: a type
// mismatch there makes every status update of the Kubernetes controller fail, and a field the
// schema lacks is silently pruned.
#include <gtest/gtest.h>

#include "reconcilers/schemaupgrade/status_json.h"
#include "tests/unit/artifacts/crd_helpers.h"
#include "tests/unit/artifacts/schema_check.h"

namespace su::testing {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "  " + s + "\n";
  return out;
}

ResourceStatus FullStatus() {
  ResourceStatus s;
  s.resource = "ciam/kratos";
  s.observed_generation = 3;
  s.spec_hash = "abc";
  s.phase = Phase::kSucceeded;
  s.message = "Upgraded to v1.2.0.";
  s.current_version = "20240101000000000000";
  s.target_version = "v1.2.0";
  s.image = "oryd/kratos:v1.2.0";
  s.previous_image = "oryd/kratos:v1.1.0";
  s.plan_hash = "deadbeef";
  s.pending = {"20240201000000000000"};
  s.applied = {{"20240101000000000000", "add_index", 1200, "2024-05-01T02:00:00Z"}};
  s.attempts = 1;
  s.failure_action = "rollbackImage";
  s.contract_after = "2024-05-02T02:00:00Z";
  s.backup = BackupRecord{};
  s.backup->path = "/var/lib/schema-upgrade/backups/x.dump";
  s.backup->size_bytes = 1 << 20;
  s.backup->taken_at = "2024-05-01T01:59:00Z";
  s.backup->plan_hash = "deadbeef";
  s.blocked_sessions = {{4242, "app", 3000, "SELECT ..."}};
  s.backfill = BackfillProgress{"20240101000000000000", 1000, 5000000, 9000, 554, "2024-05-01T02:00:00Z"};
  s.conditions = {{"Ready", "True", "Succeeded", "Upgraded.", 3, "2024-05-01T02:00:00Z"},
                  {"Reconciling", "False", "Succeeded", "", 3, "2024-05-01T02:00:00Z"}};
  s.path_step = "v1.2.0";
  s.path_step_started_at = "2024-05-01T01:58:00Z";
  s.path_done = {"v1.1.5"};
  s.undo = UndoProgress{"rollback", "deadbeef", "v1.2.0", 3, "20240101000000000000", "oryd/kratos:v1.1.0",
                        "oryd/kratos:v1.2.0", true, "exited with code 1", "Failed", "VerifyFailed", 0, 17, -1,
                        "2024-05-01T02:00:00Z", {"image"}, "rollbackImage: image restored to oryd/kratos:v1.1.0",
                        "", " (engine ory has no down migrations)"};
  s.updated_at = "2024-05-01T02:00:01Z";
  return s;
}

void ExpectFits(const ResourceStatus& status) {
  // JSON is YAML: load the controller's JSON with yaml-cpp and validate it like a manifest.
  const YAML::Node json = YAML::Load(StatusToJson(status));
  ASSERT_TRUE(json.IsMap() && json["phase"].IsScalar()) << StatusToJson(status);
  std::vector<std::string> errors;
  ValidateValue(RootSchema()["properties"]["status"], json, "status", &errors);
  // "resource" (namespace/name) is for the CLI's state files; in Kubernetes it is the object's
  // own name, so the schema leaves it out and the API server prunes it.
  std::vector<std::string> real;
  for (const auto& e : errors)
    if (e.find("unknown field 'resource'") == std::string::npos) real.push_back(e);
  EXPECT_TRUE(real.empty()) << Join(real);
}

TEST(StatusSchema, FullReconcilerStatusFitsTheCrd) { ExpectFits(FullStatus()); }

TEST(StatusSchema, FreshStatusWithEmptyFieldsFitsTheCrd) {
  ResourceStatus s;
  s.resource = "ciam/hydra";
  ExpectFits(s);
}

TEST(StatusSchema, EveryPhaseIsInTheEnum) {
  for (Phase p : kAllPhases) {
    ResourceStatus s = FullStatus();
    s.phase = p;
    ExpectFits(s);
  }
}

}  // namespace
}  // namespace su::testing
