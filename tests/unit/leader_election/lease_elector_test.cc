// The Lease elector's algorithm (controller/kubernetes/lease_elector.h) step by step against a
// scripted FakeKubeApi, with a FakeClock: client-go's rules for acquiring, renewing, losing and
// releasing, and that only this replica's monotonic clock decides when a lease has expired.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "controller/kubernetes/lease_elector.h"
#include "tests/support/fakes/fake_kube_api.h"

namespace su {
namespace {

using namespace std::chrono_literals;
using testing::FakeKubeApi;

const char* kUrl = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/schema-upgrade-operator";

std::string Lease(const std::string& holder, const std::string& renew, long long transitions, const std::string& rv,
                  int duration = 15) {
  LeaseRecord r{holder, duration, "2026-01-01T00:00:00.000000Z", renew, transitions};
  std::string json = NewLeaseJson("ops", "schema-upgrade-operator", r);
  // NewLeaseJson has no resourceVersion: add the one the server would return.
  return json.replace(json.find("\"namespace\""), 0, "\"resourceVersion\":\"" + rv + "\",");
}

kube::ApiError Err(int status, const std::string& reason = "") {
  std::string body = reason.empty() ? "" : R"({"kind":"Status","reason":")" + reason + R"(","message":"m"})";
  return kube::ApiErrorFromResponse(status, body, "PUT", kUrl);
}

class LeaseElectorTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaseElector> Make(const std::string& identity = "me") {
    LeaseOptions o;
    o.ns = "ops";
    o.identity = identity;
    auto e = LeaseElector::Create(&api_, o, &clock_);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return std::move(e).value();
  }
  // The record the last call of verb sent.
  LeaseRecord Sent(const std::string& verb, std::string* rv = nullptr) {
    auto calls = api_.calls();
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if (it->verb != verb) continue;
      auto l = ParseLease(it->body);
      EXPECT_TRUE(l.ok());
      if (rv) *rv = l->resource_version;
      return l->record;
    }
    ADD_FAILURE() << "no " << verb << " call";
    return {};
  }
  // Becomes leader by creating the Lease (rv 1, transitions 0).
  std::unique_ptr<LeaseElector> Leader() {
    auto e = Make();
    api_.AddWrite(Err(404, "NotFound"));
    api_.AddWrite(Lease("me", "2026-01-01T00:00:00.000000Z", 0, "1"));
    EXPECT_TRUE(e->AcquireStep());
    return e;
  }

  FakeKubeApi api_;
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::hours(24 * 20000))};
};

TEST_F(LeaseElectorTest, CreatesTheLeaseWhenThereIsNone) {
  auto e = Make();
  api_.AddWrite(Err(404, "NotFound"));
  api_.AddWrite(Lease("me", "x", 0, "1"));
  ASSERT_TRUE(e->AcquireStep());
  EXPECT_TRUE(e->IsLeader());
  auto calls = api_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].verb, "get");
  EXPECT_EQ(calls[0].url, kUrl);
  EXPECT_EQ(calls[1].verb, "create");
  EXPECT_EQ(calls[1].url, "/apis/coordination.k8s.io/v1/namespaces/ops/leases") << "Create posts to the collection";
  LeaseRecord r = Sent("create");
  EXPECT_EQ(r.holder_identity, "me");
  EXPECT_EQ(r.lease_duration_seconds, 15);
  EXPECT_EQ(r.lease_transitions, 0);
  EXPECT_EQ(r.acquire_time, r.renew_time);
  EXPECT_EQ(r.renew_time, FormatMicroTime(clock_.Now()));
  LeaderState s = e->State();
  EXPECT_TRUE(s.leading);
  EXPECT_EQ(s.holder, "me");
  EXPECT_FALSE(e->LostToken().stop_requested());
}

TEST_F(LeaseElectorTest, TakesOverOnlyAfterTheRecordStayedUnchangedForTheLeaseDurationOnItsOwnClock) {
  auto e = Make();
  // The holder's clock is far ahead: its renewTime must not make the lease look fresh forever, and
  // our own wall clock jumping must not make it look expired.
  const std::string held = Lease("other", "2099-01-01T00:00:00.000000Z", 3, "7");
  api_.AddWrite(held);
  EXPECT_FALSE(e->AcquireStep());
  clock_.Advance(14s);
  clock_.Set(clock_.Now() + 24h);  // a wall-clock step (NTP, a wrong date) changes nothing
  api_.AddWrite(held);
  EXPECT_FALSE(e->AcquireStep());
  EXPECT_EQ(api_.Count("update"), 0);
  EXPECT_EQ(e->State().holder, "other");

  clock_.Advance(1s);
  api_.AddWrite(held);
  api_.AddWrite(Lease("me", "x", 4, "8"));
  ASSERT_TRUE(e->AcquireStep());
  std::string rv;
  LeaseRecord r = Sent("update", &rv);
  EXPECT_EQ(rv, "7") << "the takeover must carry the resourceVersion it read (optimistic concurrency)";
  EXPECT_EQ(r.holder_identity, "me");
  EXPECT_EQ(r.lease_transitions, 4);
  EXPECT_EQ(r.acquire_time, FormatMicroTime(clock_.Now()));
  EXPECT_EQ(e->State().transitions, 4);
}

TEST_F(LeaseElectorTest, ARenewalByTheHolderRestartsTheWait) {
  auto e = Make();
  api_.AddWrite(Lease("other", "2026-01-01T00:00:00.000000Z", 0, "7"));
  EXPECT_FALSE(e->AcquireStep());
  clock_.Advance(10s);
  api_.AddWrite(Lease("other", "2026-01-01T00:00:10.000000Z", 0, "8"));  // renewed
  EXPECT_FALSE(e->AcquireStep());
  clock_.Advance(14s);  // 24 s after the first read, 14 s after the change
  api_.AddWrite(Lease("other", "2026-01-01T00:00:10.000000Z", 0, "8"));
  EXPECT_FALSE(e->AcquireStep());
  clock_.Advance(1s);
  api_.AddWrite(Lease("other", "2026-01-01T00:00:10.000000Z", 0, "8"));
  api_.AddWrite(Lease("me", "x", 1, "9"));
  EXPECT_TRUE(e->AcquireStep());
}

TEST_F(LeaseElectorTest, UsesTheHoldersLeaseDurationNotItsOwn) {
  auto e = Make();
  api_.AddWrite(Lease("other", "t", 0, "7", /*duration=*/60));
  EXPECT_FALSE(e->AcquireStep());
  clock_.Advance(59s);
  api_.AddWrite(Lease("other", "t", 0, "7", 60));
  EXPECT_FALSE(e->AcquireStep());
}

TEST_F(LeaseElectorTest, TakesAReleasedLeaseAtOnce) {
  auto e = Make();
  api_.AddWrite(Lease("", "2026-01-01T00:00:00.000000Z", 5, "7", 1));
  api_.AddWrite(Lease("me", "x", 6, "8"));
  ASSERT_TRUE(e->AcquireStep());
  EXPECT_EQ(Sent("update").lease_transitions, 6);
}

TEST_F(LeaseElectorTest, LosingTheRaceForAnExpiredLeaseOn409StaysStandby) {
  auto e = Make();
  api_.AddWrite(Lease("", "t", 0, "7", 1));
  api_.AddWrite(Err(409, "Conflict"));
  EXPECT_FALSE(e->AcquireStep());
  EXPECT_FALSE(e->IsLeader());
  EXPECT_FALSE(e->LostToken().stop_requested()) << "never led, so nothing was lost";
  // The next attempt reads the winner's record and waits for it.
  api_.AddWrite(Lease("winner", "t2", 1, "8"));
  EXPECT_FALSE(e->AcquireStep());
  EXPECT_EQ(e->State().holder, "winner");
}

TEST_F(LeaseElectorTest, APIErrorsWhileAcquiringAreRetriedNotFatal) {
  auto e = Make();
  api_.AddWrite(Err(503, "ServiceUnavailable"));
  EXPECT_FALSE(e->AcquireStep());
  api_.AddWrite(Err(404, "NotFound"));
  api_.AddWrite(Err(403, "Forbidden"));
  EXPECT_FALSE(e->AcquireStep());
  api_.AddWrite(Err(404, "NotFound"));
  api_.AddWrite(Lease("me", "x", 0, "1"));
  EXPECT_TRUE(e->AcquireStep());
}

TEST_F(LeaseElectorTest, RenewalUpdatesFromTheLastWrittenLeaseKeepingAcquireTimeAndTransitions) {
  auto e = Leader();
  const std::string acquired = Sent("create").acquire_time;
  clock_.Advance(2s);
  api_.AddWrite(Lease("me", "r1", 0, "2"));
  ASSERT_TRUE(e->RenewStep());
  EXPECT_EQ(api_.Count("get"), 1) << "the fast path renews without reading";
  std::string rv;
  LeaseRecord r = Sent("update", &rv);
  EXPECT_EQ(rv, "1");
  EXPECT_EQ(r.holder_identity, "me");
  EXPECT_EQ(r.acquire_time, acquired);
  EXPECT_EQ(r.renew_time, FormatMicroTime(clock_.Now()));
  EXPECT_NE(r.renew_time, acquired);
  EXPECT_EQ(r.lease_transitions, 0);

  clock_.Advance(2s);
  api_.AddWrite(Lease("me", "r2", 0, "3"));
  ASSERT_TRUE(e->RenewStep());
  Sent("update", &rv);
  EXPECT_EQ(rv, "2") << "each renewal carries the resourceVersion of the previous write";
}

TEST_F(LeaseElectorTest, FailedRenewalsAreRetriedUntilTheRenewDeadlineThenLeadershipIsLost) {
  auto e = Leader();
  std::atomic<bool> fired{false};
  std::stop_callback cb(e->LostToken(), [&] { fired = true; });
  for (int i = 0; i < 40; ++i) api_.AddWrite(Err(503, "ServiceUnavailable"));
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(2s);
    ASSERT_TRUE(e->RenewStep()) << "within the renew deadline, after " << (i + 1) * 2 << "s";
  }
  EXPECT_FALSE(fired);
  clock_.Advance(2s);  // 10 s since the last success
  EXPECT_FALSE(e->RenewStep());
  EXPECT_TRUE(fired);
  EXPECT_FALSE(e->IsLeader());
  EXPECT_FALSE(e->RenewStep());
}

TEST_F(LeaseElectorTest, ARenewalThatFindsAnotherHolderLosesAtOnce) {
  auto e = Leader();
  clock_.Advance(2s);
  api_.AddWrite(Err(409, "Conflict"));                 // fast path: someone wrote the Lease
  api_.AddWrite(Lease("usurper", "t", 1, "5"));        // and it is theirs now
  EXPECT_FALSE(e->RenewStep());
  EXPECT_TRUE(e->LostToken().stop_requested());
  EXPECT_EQ(e->State().holder, "usurper");
  EXPECT_EQ(api_.Count("update"), 1) << "never overwrite a live holder";
}

TEST_F(LeaseElectorTest, ARecoveredRenewalAfterAConflictKeepsLeading) {
  auto e = Leader();
  clock_.Advance(2s);
  api_.AddWrite(Err(409, "Conflict"));
  api_.AddWrite(Lease("me", "t", 0, "4"));  // an annotation edit by someone bumped the resourceVersion
  api_.AddWrite(Lease("me", "t2", 0, "5"));
  EXPECT_TRUE(e->RenewStep());
  std::string rv;
  Sent("update", &rv);
  EXPECT_EQ(rv, "4");
}

TEST_F(LeaseElectorTest, TheWatchdogLosesLeadershipAtTheRenewDeadlineWithoutAnyCall) {
  auto e = Leader();
  size_t calls = api_.calls().size();
  clock_.Advance(9999ms);
  EXPECT_TRUE(e->WatchdogStep());
  clock_.Advance(1ms);
  EXPECT_FALSE(e->WatchdogStep());
  EXPECT_TRUE(e->LostToken().stop_requested());
  EXPECT_EQ(api_.calls().size(), calls) << "a hung API call must not delay the loss";
}

TEST_F(LeaseElectorTest, ReleaseClearsTheHolderSoASuccessorNeedNotWait) {
  auto e = Leader();
  std::atomic<bool> fired{false};
  std::stop_callback cb(e->LostToken(), [&] { fired = true; });
  clock_.Advance(3s);
  api_.AddWrite(Lease("", "t", 0, "2", 1));
  ASSERT_TRUE(e->Release().ok());
  std::string rv;
  LeaseRecord r = Sent("update", &rv);
  EXPECT_EQ(rv, "1");
  EXPECT_EQ(r.holder_identity, "");
  EXPECT_EQ(r.lease_duration_seconds, 1);
  EXPECT_EQ(r.lease_transitions, 0);
  EXPECT_EQ(r.renew_time, FormatMicroTime(clock_.Now()));
  EXPECT_TRUE(fired);
  EXPECT_FALSE(e->IsLeader());
  size_t calls = api_.calls().size();
  EXPECT_TRUE(e->Release().ok());
  EXPECT_EQ(api_.calls().size(), calls) << "Release is idempotent";
  EXPECT_EQ(e->WaitForLeadership({}).code(), Code::kCancelled);
}

TEST_F(LeaseElectorTest, ReleaseAfterAConflictRereadsAndReleasesOnlyItsOwnLease) {
  auto e = Leader();
  api_.AddWrite(Err(409, "Conflict"));
  api_.AddWrite(Lease("me", "t", 0, "9"));
  api_.AddWrite(Lease("", "t", 0, "10", 1));
  ASSERT_TRUE(e->Release().ok());
  std::string rv;
  EXPECT_EQ(Sent("update", &rv).holder_identity, "");
  EXPECT_EQ(rv, "9");

  auto f = Leader();
  api_.AddWrite(Err(409, "Conflict"));
  api_.AddWrite(Lease("other", "t", 1, "11"));
  size_t updates = api_.Count("update");
  EXPECT_TRUE(f->Release().ok());
  EXPECT_EQ(api_.Count("update"), static_cast<int>(updates) + 1)
      << "after the 409 the re-read shows another holder: someone else's lease is not ours to clear";
}

TEST_F(LeaseElectorTest, ReleaseWhenTheAPIIsDownSaysSoAndStillStopsLeading) {
  auto e = Leader();
  api_.AddWrite(Err(503, "ServiceUnavailable"));
  Status s = e->Release();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ops/schema-upgrade-operator"), std::string::npos) << s.message();
  EXPECT_FALSE(e->IsLeader());
  EXPECT_TRUE(e->LostToken().stop_requested());
}

TEST_F(LeaseElectorTest, AStandbyNeverReleases) {
  auto e = Make();
  api_.AddWrite(Lease("other", "t", 0, "7"));
  EXPECT_FALSE(e->AcquireStep());
  EXPECT_TRUE(e->Release().ok());
  EXPECT_EQ(api_.Count("update"), 0);
  EXPECT_FALSE(e->LostToken().stop_requested());
}

TEST(LeaseElectorCreateTest, RefusesInvalidOptions) {
  FakeKubeApi api;
  LeaseOptions o;
  o.identity = "me";
  auto e = LeaseElector::Create(&api, o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("POD_NAMESPACE"), std::string::npos);
}

// The threaded loops on the real clock: WaitForLeadership returns on stop while standby, and the
// renewer keeps a won lease renewed until Release.
TEST(LeaseElectorThreadsTest, WaitEndsOnStopAndTheRenewerRenewsUntilRelease) {
  FakeKubeApi api;
  LeaseOptions o;
  o.ns = "ops";
  o.identity = "me";
  o.lease_duration = 3s;
  o.renew_deadline = 2s;
  o.retry_period = 20ms;
  auto e = LeaseElector::Create(&api, o);
  ASSERT_TRUE(e.ok());
  for (int i = 0; i < 3; ++i) api.AddWrite(Lease("other", "t", 0, "7"));
  std::stop_source stop;
  std::thread stopper([&] {
    while (api.Count("get") < 3) std::this_thread::yield();
    stop.request_stop();
  });
  EXPECT_EQ((*e)->WaitForLeadership(stop.get_token()).code(), Code::kCancelled);
  stopper.join();

  auto f = LeaseElector::Create(&api, o);
  ASSERT_TRUE(f.ok());
  api.AddWrite(Err(404, "NotFound"));
  api.AddWrite(Lease("me", "x", 0, "1"));
  // Enough answers for every renewal the loop may make before Release stops it.
  for (int i = 0; i < 1000; ++i) api.AddWrite(Lease("me", "r", 0, std::to_string(i + 2)));
  ASSERT_TRUE((*f)->WaitForLeadership({}).ok());
  while (api.Count("update") < 3) std::this_thread::yield();
  EXPECT_TRUE((*f)->IsLeader());
  ASSERT_TRUE((*f)->Release().ok());
  auto calls = api.calls();
  ASSERT_EQ(calls.back().verb, "update") << "Release stops the renewer before it writes";
  EXPECT_EQ(ParseLease(calls.back().body)->record.holder_identity, "");
  int updates = api.Count("update");
  EXPECT_FALSE((*f)->IsLeader());
  EXPECT_TRUE((*f)->LostToken().stop_requested());
  EXPECT_EQ(api.Count("update"), updates) << "no renewal after Release";
}

}  // namespace
}  // namespace su
