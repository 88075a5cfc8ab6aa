// SeedStatus and ReportInvalidSpec (reconcilers/schemaupgrade/status_seed.h), and the local
// SecretResolver's Kubernetes-mode message for secretKeyRef.
#include "reconcilers/schemaupgrade/status_seed.h"

#include <gtest/gtest.h>

#include "reconcilers/schemaupgrade/secret_resolver.h"

namespace su {
namespace {

FakeClock* Clk() {
  static FakeClock c(std::chrono::system_clock::from_time_t(1700000000));
  return &c;
}

TEST(StatusSeed, AFirstSeenResourceGetsPendingWithKstatusConditionsOnce) {
  auto store = NewMemoryStatusStore();
  auto wrote = SeedStatus(store.get(), "shop/app", 3, Clk());
  ASSERT_TRUE(wrote.ok());
  EXPECT_TRUE(*wrote);
  auto s = store->Load("shop/app");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->phase, Phase::kPending);
  EXPECT_EQ((*s)->observed_generation, 3);
  for (const char* t : {"Ready", "Reconciling", "Stalled"}) {
    const Condition* c = FindCondition(**s, t);
    ASSERT_NE(c, nullptr) << t;
    EXPECT_EQ(c->observed_generation, 3) << t;
    EXPECT_FALSE(c->reason.empty()) << t;
  }
  EXPECT_EQ(FindCondition(**s, "Reconciling")->status, "True");
  EXPECT_FALSE(*SeedStatus(store.get(), "shop/app", 4, Clk()));  // a status exists: left alone
}

TEST(StatusSeed, AnInvalidSpecIsStalledWithTheFieldAndWrittenOncePerGeneration) {
  auto store = NewMemoryStatusStore();
  ResourceStatus before;
  before.current_version = "5";
  before.phase = Phase::kSucceeded;
  ASSERT_TRUE(store->Save("shop/app", before).ok());
  Status why = Status::Invalid("SchemaUpgrade shop/app: spec.policy.maintenanceWindow.timeZone: unknown");
  EXPECT_TRUE(*ReportInvalidSpec(store.get(), "shop/app", 2, why, Clk()));
  auto s = store->Load("shop/app");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->phase, Phase::kFailed);
  EXPECT_EQ((*s)->current_version, "5");  // the world as last observed stays
  EXPECT_EQ((*s)->observed_generation, 2);
  const Condition* stalled = FindCondition(**s, "Stalled");
  ASSERT_NE(stalled, nullptr);
  EXPECT_EQ(stalled->status, "True");
  EXPECT_EQ(stalled->reason, kReasonInvalidSpec);
  EXPECT_NE(stalled->message.find("spec.policy.maintenanceWindow.timeZone"), std::string::npos);
  EXPECT_EQ(FindCondition(**s, "Ready")->status, "False");
  EXPECT_EQ(FindCondition(**s, "Reconciling")->status, "False");
  EXPECT_FALSE(*ReportInvalidSpec(store.get(), "shop/app", 2, why, Clk()));  // a resync: nothing new
  EXPECT_TRUE(*ReportInvalidSpec(store.get(), "shop/app", 3, why, Clk()));   // a new generation
}

TEST(LocalSecretResolver, SecretKeyRefSaysWhenItArrivesInKubernetesMode) {
  SchemaUpgrade su;
  su.name = "app";
  su.namespace_ = "shop";
  su.source_file = "SchemaUpgrade shop/app";
  su.dsn.kind = DsnSource::Kind::kSecretKeyRef;
  su.dsn.secret_name = "db";
  su.dsn.secret_key = "dsn";
  auto r = NewLocalSecretResolver({LocalFileSystem(), nullptr, kSecretKeyRefNotYet})->ResolveDsn(su);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("SchemaUpgrade shop/app: spec.database.dsnFrom.secretKeyRef"), std::string::npos);
  EXPECT_NE(r.status().message().find("Kubernetes runtime"), std::string::npos) << r.status().message();
  su.dsn.kind = DsnSource::Kind::kEnv;
  su.dsn.env = "SU_TEST_DSN_X";
  auto env = NewLocalSecretResolver({LocalFileSystem(), [](const char*) -> const char* { return "postgres://u:pw12@h/db"; }, ""})
                 ->ResolveDsn(su);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*env, "postgres://u:pw12@h/db");
}

}  // namespace
}  // namespace su
