// Reconciler pre-flight: everything that can refuse an upgrade refuses before its first change.
// A target image that cannot be had, a workload edit the runtime cannot make, a digest pin the
// bump would drop and a downgrade all stop the pass before the backup, the first migration and
// the image edit; `plan` (a dry run) shows what pre-flight found.
#include <gtest/gtest.h>

#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

class ReconcilerPreflightTest : public ReconcilerFixture {};

TEST_F(ReconcilerPreflightTest, ATargetImageThatCannotBePulledTouchesNothingAndIsRetried) {
  rt_.all_images_present = false;  // and nothing is pullable
  auto out = Run();
  ExpectWorldUntouched();
  EXPECT_EQ(out.result.code(), Code::kUnavailable);
  EXPECT_GT(out.requeue_after.count(), 0);
  EXPECT_EQ(rt_.preflight_calls, (std::vector<std::string>{kNewImage, std::string(kNewImage) + " fetch"}));
  ResourceStatus st = Stored();
  EXPECT_EQ(Cond(st, "Ready"), "False/ImageUnavailable");
  EXPECT_NE(st.last_error.find("nothing was changed"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("manifest unknown"), std::string::npos) << st.last_error;
}

// The ory engine plans by running the target image: an image that cannot be had shows up there.
TEST_F(ReconcilerPreflightTest, AnOryTargetImageThatCannotBeHadIsRetriedNotAnInvalidMigrationsFailure) {
  su_.migrations.engine = "ory";
  world_.observe_errors = {Status::Error(Code::kNotFound, "running migrate sql status: image " + std::string(kNewImage) +
                                                              " is not present and could not be pulled")};
  auto out = Run();
  ExpectWorldUntouched();
  EXPECT_EQ(out.result.code(), Code::kUnavailable);
  EXPECT_GT(out.requeue_after.count(), 0);
  ResourceStatus st = Stored();
  EXPECT_EQ(Cond(st, "Ready"), "False/ImageUnavailable");
  EXPECT_NE(st.last_error.find("nothing was changed"), std::string::npos) << st.last_error;
}

TEST_F(ReconcilerPreflightTest, AMissingTargetImageIsPulledBeforeTheBackupAndTheFirstMigration) {
  su_.policy.backup_enabled = true;
  rt_.all_images_present = false;
  rt_.pullable_images = {kNewImage};
  auto out = Run();
  ASSERT_TRUE(out.result.ok()) << out.result.ToString();
  ASSERT_GE(journal_.size(), 3u);
  EXPECT_EQ(journal_[0], std::string("pull:") + kNewImage);
  EXPECT_EQ(journal_[1], "backup");
  EXPECT_EQ(journal_[2], "apply");
  EXPECT_EQ(rt_.preflight_calls, (std::vector<std::string>{kNewImage, std::string(kNewImage) + " fetch"}));
  EXPECT_EQ(rt_.pulls, (std::vector<std::string>{kNewImage}));
}

TEST_F(ReconcilerPreflightTest, AWorkloadEditTheRuntimeCannotMakeRefusesBeforeAnything) {
  su_.policy.backup_enabled = true;
  rt_.preflight_errors = {Status::Invalid(
      "docker-compose.yml: service \"kratos\": image \"${KRATOS_IMAGE:-x}\" ... comes from the variable KRATOS_IMAGE")};
  auto out = Run();
  ExpectWorldUntouched();
  EXPECT_EQ(out.result.code(), Code::kInvalidArgument);
  EXPECT_TRUE(out.terminal);
  ResourceStatus st = Stored();
  EXPECT_EQ(st.phase, Phase::kFailed);
  EXPECT_EQ(Cond(st, "Stalled"), "True/BumpRefused");
  EXPECT_NE(st.last_error.find("KRATOS_IMAGE"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("nothing was changed"), std::string::npos) << st.last_error;
}

TEST_F(ReconcilerPreflightTest, PlanShowsTheRefusalAndHowTheBumpIsMade) {
  rt_.preflight_errors = {Status::Invalid("the variable KRATOS_IMAGE is set")};
  ReconcileOptions dry;
  dry.dry_run = true;
  auto refused = Run(dry);
  ASSERT_TRUE(refused.plan.has_value());
  EXPECT_NE(refused.plan->refused.find("KRATOS_IMAGE"), std::string::npos);
  EXPECT_NE(RenderPlanText(*refused.plan).find("REFUSED: apply will change nothing"), std::string::npos)
      << RenderPlanText(*refused.plan);

  rt_.preflight_note = "the bump edits the default of ${KRATOS_IMAGE:-...}, keeping the variable";
  rt_.all_images_present = false;
  auto ok = Run(dry);
  ASSERT_TRUE(ok.plan.has_value());
  std::string text = RenderPlanText(*ok.plan);
  EXPECT_NE(text.find("keeping the variable"), std::string::npos) << text;
  EXPECT_NE(text.find("is not present: apply pulls it before the backup"), std::string::npos) << text;
  EXPECT_EQ(text.find("REFUSED"), std::string::npos) << text;
  EXPECT_TRUE(rt_.pulls.empty());  // plan pulls nothing
  ExpectWorldUntouched();
}

TEST_F(ReconcilerPreflightTest, ADigestPinIsNotReplacedByATag) {
  rt_.declared = rt_.running_image = "localhost/oryd/kratos@sha256:1111111111111111111111111111111111111111111111111111111111111111";
  auto out = Run();
  EXPECT_EQ(world_.applies, 0);
  EXPECT_TRUE(rt_.set_calls.empty());
  EXPECT_EQ(out.result.code(), Code::kInvalidArgument);
  ResourceStatus st = Stored();
  EXPECT_EQ(Cond(st, "Stalled"), "True/DigestPinned");
  EXPECT_NE(st.last_error.find("pinned by digest"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("spec.image"), std::string::npos) << st.last_error;

  // Naming the new digest in spec.image keeps the pin: the upgrade goes ahead.
  su_.image = "localhost/oryd/kratos@sha256:2222222222222222222222222222222222222222222222222222222222222222";
  su_.spec_hash = "spec-hash-2";
  auto again = Run();
  ASSERT_TRUE(again.result.ok()) << again.result.ToString();
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{su_.image}));
}

TEST_F(ReconcilerPreflightTest, ADowngradeIsRefusedNamingTheVersionsAheadAndPlannedAsADowngrade) {
  world_.pending.clear();  // the target's source knows nothing newer than the database...
  world_.ahead = {"20240301000001", "20240301000002"};  // ...which holds two migrations beyond it
  world_.applied.push_back({"20240301000001", "", "", ""});
  world_.applied.push_back({"20240301000002", "", "", ""});
  rt_.declared = rt_.running_image = "localhost/oryd/kratos:v1.5.0";
  su_.target_version = "v1.2.0";
  auto out = Run();
  EXPECT_EQ(out.result.code(), Code::kGated);
  EXPECT_TRUE(rt_.set_calls.empty());
  EXPECT_EQ(rt_.rollouts, 0);
  EXPECT_TRUE(backup_.backup_paths.empty());
  ResourceStatus st = Stored();
  EXPECT_EQ(Cond(st, "Stalled"), "True/DowngradeRefused");
  EXPECT_NE(st.last_error.find("20240301000001, 20240301000002"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("allowDowngrade"), std::string::npos) << st.last_error;
  ASSERT_TRUE(out.plan.has_value());
  EXPECT_TRUE(out.plan->downgrade);
  std::string text = RenderPlanText(*out.plan);
  EXPECT_NE(text.find("DOWNGRADE"), std::string::npos) << text;

  // Asked for explicitly: only the image changes, the database stays ahead.
  su_.policy.allow_downgrade = true;
  su_.spec_hash = "spec-hash-2";
  auto allowed = Run();
  ASSERT_TRUE(allowed.result.ok()) << allowed.result.ToString();
  EXPECT_EQ(rt_.set_calls, (std::vector<std::string>{"localhost/oryd/kratos:v1.2.0"}));
  EXPECT_EQ(world_.applies, 0);
}

}  // namespace
}  // namespace su::testing
