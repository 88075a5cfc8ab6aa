// Leader election against the API server emulator (tests/emulator/kubeapi): electors in one process,
// each with its own client, racing for one Lease as replicas would. Waits are conditions with a
// generous bound (a broken test must end), never sleeps; where the point is "without waiting for
// expiry", the lease duration is longer than that bound.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <thread>

#include "controller/kubernetes/lease_elector.h"
#include "tests/support/kube/kube_emulator.h"

namespace su {
namespace {

using namespace std::chrono_literals;

const kube::GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases", true};

template <typename F>
bool WaitUntil(F cond, std::chrono::seconds bound = 60s) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);  // polling interval of the condition, not a wait for an effect
  }
  return true;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class LeaseIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu_ = new testing::KubeEmulator();
    emu_->Start();
  }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }

  struct Replica {
    std::unique_ptr<kube::KubeApi> api;
    std::unique_ptr<LeaseElector> elector;
    std::thread waiter;
    std::stop_source stop;
    std::atomic<int> result{-1};  // Code of WaitForLeadership once it returned
    ~Replica() {
      stop.request_stop();
      if (waiter.joinable()) waiter.join();
    }
    void StartWaiting() {
      waiter = std::thread([this] { result = static_cast<int>(elector->WaitForLeadership(stop.get_token()).code()); });
    }
    bool Leads() const { return result.load() == static_cast<int>(Code::kOk) && elector->IsLeader(); }
  };

  std::unique_ptr<Replica> NewReplica(const std::string& identity, std::chrono::milliseconds lease,
                                      std::chrono::milliseconds renew, std::chrono::milliseconds retry) {
    auto r = std::make_unique<Replica>();
    r->api = emu_->Client();
    LeaseOptions o;
    o.ns = "default";
    o.name = lease_name_;
    o.identity = identity;
    o.lease_duration = lease;
    o.renew_deadline = renew;
    o.retry_period = retry;
    auto e = LeaseElector::Create(r->api.get(), o);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    r->elector = std::move(e).value();
    return r;
  }
  // The Lease as the API server has it.
  LeaseRecord Stored() {
    auto api = emu_->Client();
    auto got = api->Get({kLeases, "default", lease_name_, ""});
    EXPECT_TRUE(got.ok()) << got.error().Describe();
    if (!got.ok()) return {};
    auto l = ParseLease(*got);
    EXPECT_TRUE(l.ok());
    return l.ok() ? l->record : LeaseRecord{};
  }

  static testing::KubeEmulator* emu_;
  // One Lease per test (Lease names are DNS subdomains: lower case).
  std::string lease_name_ = Lower(std::string("lease-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
};
testing::KubeEmulator* LeaseIntegrationTest::emu_ = nullptr;

TEST_F(LeaseIntegrationTest, OnlyOneLeadsAndReleaseHandsOverWithoutWaitingForExpiry) {
  // A 120 s lease: if the release did not work, b could not lead within the 60 s bound below.
  auto a = NewReplica("a", 120s, 10s, 200ms);
  auto b = NewReplica("b", 120s, 10s, 200ms);
  a->StartWaiting();
  ASSERT_TRUE(WaitUntil([&] { return a->Leads(); }));
  b->StartWaiting();
  ASSERT_TRUE(WaitUntil([&] { return b->elector->State().holder == "a"; })) << "b never read the Lease";
  LeaseRecord r = Stored();
  EXPECT_EQ(r.holder_identity, "a");
  EXPECT_EQ(r.lease_duration_seconds, 120);
  EXPECT_EQ(r.lease_transitions, 0);
  // a keeps renewing while b waits: the stored renewTime moves on.
  ASSERT_TRUE(WaitUntil([&] { return Stored().renew_time != r.renew_time; }));
  EXPECT_FALSE(b->elector->IsLeader());
  EXPECT_EQ(b->result.load(), -1);

  ASSERT_TRUE(a->elector->Release().ok());
  EXPECT_TRUE(a->elector->LostToken().stop_requested());
  ASSERT_TRUE(WaitUntil([&] { return b->Leads(); })) << "b did not take the released lease over";
  r = Stored();
  EXPECT_EQ(r.holder_identity, "b");
  EXPECT_EQ(r.lease_transitions, 1);
  EXPECT_EQ(r.lease_duration_seconds, 120);
  ASSERT_TRUE(b->elector->Release().ok());
  EXPECT_EQ(Stored().holder_identity, "");
}

TEST_F(LeaseIntegrationTest, AfterALeaderDiesWithoutReleasingExactlyOneStandbyTakesOverOnceTheLeaseExpires) {
  auto a = NewReplica("a", 4s, 3s, 200ms);
  a->StartWaiting();
  ASSERT_TRUE(WaitUntil([&] { return a->Leads(); }));
  auto b = NewReplica("b", 4s, 3s, 100ms);
  auto c = NewReplica("c", 4s, 3s, 100ms);
  b->StartWaiting();
  c->StartWaiting();
  ASSERT_TRUE(WaitUntil([&] { return b->elector->State().holder == "a" && c->elector->State().holder == "a"; }));
  // kill -9: the renewer stops, nothing is released.
  a->waiter.join();
  a->elector.reset();
  ASSERT_TRUE(WaitUntil([&] { return b->Leads() || c->Leads(); }));
  Replica* winner = b->Leads() ? b.get() : c.get();
  Replica* loser = winner == b.get() ? c.get() : b.get();
  LeaseRecord r = Stored();
  EXPECT_EQ(r.holder_identity, winner->elector->Identity());
  EXPECT_EQ(r.lease_transitions, 1);
  // The loser saw the winner's record (a 409 or a fresh read) and stays standby while it renews.
  ASSERT_TRUE(WaitUntil([&] { return loser->elector->State().holder == winner->elector->Identity(); }));
  ASSERT_TRUE(WaitUntil([&] { return Stored().renew_time != r.renew_time; }));
  EXPECT_FALSE(loser->elector->IsLeader());
  EXPECT_TRUE(winner->elector->IsLeader());
  loser->stop.request_stop();
  loser->waiter.join();
  EXPECT_EQ(loser->result.load(), static_cast<int>(Code::kCancelled));
  ASSERT_TRUE(winner->elector->Release().ok());
}

TEST_F(LeaseIntegrationTest, ALeaderWhoseLeaseWasTakenLosesAtItsNextRenewal) {
  auto a = NewReplica("a", 30s, 20s, 200ms);
  a->StartWaiting();
  ASSERT_TRUE(WaitUntil([&] { return a->Leads(); }));
  // Someone writes the Lease over a's head (an admin, or a replica with a badly skewed clock rate).
  auto api = emu_->Client();
  auto got = api->Get({kLeases, "default", lease_name_, ""});
  ASSERT_TRUE(got.ok());
  LeaseRecord usurp{"intruder", 30, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", 7};
  bool written = false;
  for (int i = 0; i < 20 && !written; ++i) {  // a's renewals may win the race for the resourceVersion
    auto body = UpdatedLeaseJson(*got, usurp);
    ASSERT_TRUE(body.ok());
    auto put = api->Update({kLeases, "default", lease_name_, ""}, *body);
    written = put.ok();
    if (!written) got = api->Get({kLeases, "default", lease_name_, ""});
  }
  ASSERT_TRUE(written);
  ASSERT_TRUE(WaitUntil([&] { return a->elector->LostToken().stop_requested(); }, 20s))
      << "a must notice at its next renewal, well before its 20 s renew deadline";
  EXPECT_FALSE(a->elector->IsLeader());
  EXPECT_EQ(Stored().holder_identity, "intruder") << "a loser never writes over the new holder";
  EXPECT_TRUE(a->elector->Release().ok());
  EXPECT_EQ(Stored().holder_identity, "intruder");
}

TEST_F(LeaseIntegrationTest, ALeaderThatCannotReachTheAPIGivesUpAtTheRenewDeadline) {
  auto a = NewReplica("a", 5s, 3s, 200ms);
  a->StartWaiting();
  ASSERT_TRUE(WaitUntil([&] { return a->Leads(); }));
  emu_->Stop();
  ASSERT_TRUE(WaitUntil([&] { return a->elector->LostToken().stop_requested(); }));
  EXPECT_FALSE(a->elector->IsLeader());
  emu_->Start();  // same port; the other tests of the suite go on with an empty store
}

}  // namespace
}  // namespace su
