// The Lease codec and the elector's options (controller/kubernetes/lease_record.h, lease_options.h).
#include <gtest/gtest.h>

#include <cstdlib>

#include "controller/kubernetes/lease_options.h"
#include "controller/kubernetes/lease_record.h"

namespace su {
namespace {

TEST(LeaseRecordTest, ParsesSpecAndResourceVersion) {
  auto l = ParseLease(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"x","namespace":"ns","resourceVersion":"42"},
    "spec":{"holderIdentity":"pod-a_1","leaseDurationSeconds":15,"acquireTime":"2026-01-01T00:00:00.000000Z",
            "renewTime":"2026-01-01T00:00:05.000000Z","leaseTransitions":3}})");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->resource_version, "42");
  EXPECT_EQ(l->record.holder_identity, "pod-a_1");
  EXPECT_EQ(l->record.lease_duration_seconds, 15);
  EXPECT_EQ(l->record.renew_time, "2026-01-01T00:00:05.000000Z");
  EXPECT_EQ(l->record.lease_transitions, 3);
}

TEST(LeaseRecordTest, AnEmptySpecIsNobodysLease) {
  auto l = ParseLease(R"({"metadata":{"name":"x","resourceVersion":"1"}})");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->record, LeaseRecord{});
  EXPECT_FALSE(ParseLease("[]").ok());
  EXPECT_FALSE(ParseLease("{not json").ok());
}

TEST(LeaseRecordTest, UpdateKeepsMetadataAndReplacesSpec) {
  std::string base = R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"x","namespace":"ns","resourceVersion":"7","labels":{"team":"db"}},
    "spec":{"holderIdentity":"old","leaseDurationSeconds":15,"leaseTransitions":1}})";
  LeaseRecord r{"", 1, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", 1};
  auto body = UpdatedLeaseJson(base, r);
  ASSERT_TRUE(body.ok());
  auto back = ParseLease(*body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->resource_version, "7");
  EXPECT_EQ(back->record, r);
  EXPECT_NE(body->find("\"team\":\"db\""), std::string::npos) << *body;
  EXPECT_NE(body->find("\"holderIdentity\":\"\""), std::string::npos) << "a release must send holderIdentity \"\"";

  auto created = ParseLease(NewLeaseJson("ns", "name", r));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->record, r);
}

TEST(LeaseRecordTest, MicroTimeIsUtcWithMicroseconds) {
  auto t = std::chrono::system_clock::time_point(std::chrono::microseconds(1764614402123456LL));
  EXPECT_EQ(FormatMicroTime(t), "2025-12-01T18:40:02.123456Z");
}

TEST(LeaseOptionsTest, ClientGoDefaultsAreValid) {
  LeaseOptions o;
  o.ns = "ns";
  o.identity = "me";
  EXPECT_TRUE(ValidateLeaseOptions(o).ok());
  EXPECT_EQ(o.name, "schema-upgrade-operator");
  EXPECT_EQ(o.lease_duration.count(), 15000);
  EXPECT_EQ(o.renew_deadline.count(), 10000);
  EXPECT_EQ(o.retry_period.count(), 2000);
}

TEST(LeaseOptionsTest, RefusesDurationsThatCouldElectTwoLeaders) {
  LeaseOptions o;
  o.ns = "ns";
  o.identity = "me";
  o.renew_deadline = std::chrono::seconds(15);
  Status s = ValidateLeaseOptions(o);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("--leader-election-renew-deadline"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--leader-election-lease-duration"), std::string::npos) << s.message();

  o.renew_deadline = std::chrono::seconds(10);
  o.retry_period = std::chrono::seconds(10);
  s = ValidateLeaseOptions(o);
  EXPECT_NE(s.message().find("--leader-election-retry-period"), std::string::npos) << s.message();

  o.retry_period = std::chrono::seconds(2);
  o.lease_duration = std::chrono::milliseconds(15500);
  s = ValidateLeaseOptions(o);
  EXPECT_NE(s.message().find("whole number of seconds"), std::string::npos) << s.message();

  o.lease_duration = std::chrono::seconds(15);
  o.retry_period = std::chrono::milliseconds(0);
  EXPECT_FALSE(ValidateLeaseOptions(o).ok());
  o.retry_period = std::chrono::seconds(2);
  o.name = "";
  EXPECT_NE(ValidateLeaseOptions(o).message().find("--leader-election-id"), std::string::npos);
}

TEST(LeaseOptionsTest, NamespaceFromFlagThenPodNamespaceElseAnErrorNamingBoth) {
  unsetenv("POD_NAMESPACE");
  auto none = ResolveLeaseNamespace("");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  EXPECT_NE(none.status().message().find("--leader-election-namespace"), std::string::npos);
  EXPECT_NE(none.status().message().find("POD_NAMESPACE"), std::string::npos);
  setenv("POD_NAMESPACE", "from-env", 1);
  EXPECT_EQ(*ResolveLeaseNamespace(""), "from-env");
  EXPECT_EQ(*ResolveLeaseNamespace("from-flag"), "from-flag");
  unsetenv("POD_NAMESPACE");
}

TEST(LeaseOptionsTest, IdentityIsPodNamePlusARandomSuffix) {
  setenv("POD_NAME", "su-controller-7d9f", 1);
  std::string a = MakeLeaseIdentity(), b = MakeLeaseIdentity();
  unsetenv("POD_NAME");
  EXPECT_EQ(a.rfind("su-controller-7d9f_", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("su-controller-7d9f_").size() + 12);
  EXPECT_NE(a, b);
  EXPECT_FALSE(MakeLeaseIdentity().empty());
}

TEST(LeaseOptionsTest, FromFlagsParsesDurationsAndNamesTheBadFlag) {
  unsetenv("POD_NAMESPACE");
  setenv("POD_NAME", "ctl-a", 1);
  LeaseFlags f;
  f.ns = "ops";
  f.id = "my-lease";
  f.lease_duration = "6s";
  f.renew_deadline = "4s";
  f.retry_period = "500ms";
  auto o = LeaseOptionsFromFlags(f);
  unsetenv("POD_NAME");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->ns, "ops");
  EXPECT_EQ(o->name, "my-lease");
  EXPECT_EQ(o->lease_duration.count(), 6000);
  EXPECT_EQ(o->renew_deadline.count(), 4000);
  EXPECT_EQ(o->retry_period.count(), 500);
  EXPECT_EQ(o->identity.rfind("ctl-a_", 0), 0u);

  auto defaults = LeaseOptionsFromFlags({"ops", "", "", "", ""});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->name, "schema-upgrade-operator");
  EXPECT_EQ(defaults->lease_duration.count(), 15000);

  f.renew_deadline = "soon";
  auto bad = LeaseOptionsFromFlags(f);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--leader-election-renew-deadline"), std::string::npos) << bad.status().message();
  f.renew_deadline = "8s";
  EXPECT_NE(LeaseOptionsFromFlags(f).status().message().find("--leader-election-renew-deadline (8s) must be shorter"),
            std::string::npos);
  EXPECT_NE(LeaseOptionsFromFlags({"", "", "", "", ""}).status().message().find("--leader-election-namespace"),
            std::string::npos);
}

}  // namespace
}  // namespace su
