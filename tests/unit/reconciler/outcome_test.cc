// The outcome of a pass says how it ended (outcome.h), so callers (the controller's
// reconcile_results_total, `apply`) switch on a kind instead of decoding Status codes: a pass that
// waits for its window is "waiting", a checksum-drift refusal (a kGated Status, permanent) is
// "failed", a database outage is "retrying" with the policy's backoff.
#include <gtest/gtest.h>

#include "api/conditions.h"
#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

// A run that failed with status and applied nothing (RunReport has more fields than a brace list names).
RunReport FailedRun(Status status) {
  RunReport r;
  r.status = std::move(status);
  return r;
}

using std::chrono::hours;
using std::chrono::seconds;

class ReconcileOutcomeTest : public ReconcilerFixture {};

TEST_F(ReconcileOutcomeTest, ConvergedPassSucceeded) {
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded);
  EXPECT_EQ(out.reason, "");
  EXPECT_TRUE(out.result.ok()) << out.result.ToString();
  EXPECT_TRUE(out.terminal);
  EXPECT_STREQ(OutcomeKindName(out.kind), "succeeded");
}

TEST_F(ReconcileOutcomeTest, ClosedWindowIsWaitingWithWhenToLookAgain) {
  su_.policy.window = MaintenanceWindow{"02:00", "04:00", "UTC", {}};  // now 10:00: closed
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, reasons::kOutsideMaintenanceWindow);
  EXPECT_EQ(out.requeue_after, hours(16));
  EXPECT_FALSE(out.terminal);
  EXPECT_STREQ(OutcomeKindName(out.kind), "waiting");
  // Not an error of the resource: no attempt spent, not stalled.
  EXPECT_EQ(Stored().attempts, 0);
  EXPECT_EQ(Cond(Stored(), condition::kStalled), "False/OutsideMaintenanceWindow");
}

TEST_F(ReconcileOutcomeTest, AwaitingApprovalIsWaitingUntilTheSpecChanges) {
  su_.policy.approval_required = true;
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kWaiting);
  EXPECT_EQ(out.reason, reasons::kAwaitingApproval);
  EXPECT_EQ(out.requeue_after.count(), 0);
  EXPECT_TRUE(out.terminal);
  ExpectWorldUntouched();
}

TEST_F(ReconcileOutcomeTest, OutageIsRetryAfterThePolicyBackoff) {
  db_.connect_results = {Status::Error(Code::kUnavailable, "connection refused"),
                         Status::Error(Code::kUnavailable, "connection refused")};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kRetryAfter);
  EXPECT_EQ(out.reason, reasons::kDatabaseUnavailable);
  EXPECT_EQ(out.requeue_after, seconds(5));
  EXPECT_FALSE(out.terminal);
  EXPECT_EQ(out.result.code(), Code::kUnavailable);
  EXPECT_STREQ(OutcomeKindName(out.kind), "retrying");

  // Within the backoff the pass does nothing and says it is still retrying, with what is left.
  clock_.Advance(seconds(2));
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kRetryAfter);
  EXPECT_EQ(out.reason, reasons::kDatabaseUnavailable);
  EXPECT_EQ(out.requeue_after, seconds(3));
  EXPECT_EQ(db_.connects(), 1);

  clock_.Advance(seconds(3));
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kRetryAfter);
  EXPECT_EQ(out.requeue_after, seconds(10)) << "the second attempt doubles the backoff";
}

// A permanent refusal whose Status code is kGated (checksum drift) is failed, not waiting: the old
// classification by code counted it as "waiting" in reconcile_results_total.
TEST_F(ReconcileOutcomeTest, ChecksumDriftIsFailedThoughItsCodeIsGated) {
  world_.drift = {{"20240101000001", "init", "20240101000001_init.up.sql", "aaaa", "bbbb", false}};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kChecksumDrift);
  EXPECT_EQ(out.result.code(), Code::kGated);
  EXPECT_TRUE(out.terminal);
  EXPECT_STREQ(OutcomeKindName(out.kind), "failed");

  // The next pass does not run again: still failed, same reason, nothing recorded anew.
  int events = static_cast<int>(events_.size());
  out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kChecksumDrift);
  EXPECT_EQ(static_cast<int>(events_.size()), events);
}

TEST_F(ReconcileOutcomeTest, FailedMigrationIsFailedAfterOnFailure) {
  world_.apply_script = {FailedRun(Status::Database("syntax error at or near \"CREAT\"", "42601"))};
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kMigrationFailed);
  EXPECT_TRUE(out.terminal);
  EXPECT_EQ(Stored().phase, Phase::kFailed);
}

TEST_F(ReconcileOutcomeTest, ShutdownDuringAPassIsRetryWithoutBackoff) {
  cancelled_ = [] { return true; };
  auto out = Run();
  EXPECT_EQ(out.kind, OutcomeKind::kRetryAfter);
  EXPECT_EQ(out.reason, reasons::kCancelled);
  EXPECT_EQ(out.requeue_after.count(), 0) << "a shutdown spends no attempt and sets no backoff";
  EXPECT_EQ(Stored().attempts, 0);
  EXPECT_EQ(Cond(Stored(), condition::kReconciling), "True/Interrupted");
}

TEST_F(ReconcileOutcomeTest, DryRunPlanSucceedsAndChangesNothing) {
  ReconcileOptions o;
  o.dry_run = true;
  auto out = Run(o);
  EXPECT_EQ(out.kind, OutcomeKind::kSucceeded);
  EXPECT_TRUE(out.terminal);
  ASSERT_TRUE(out.plan.has_value());
  ExpectWorldUntouched();
}

}  // namespace
}  // namespace su::testing
