// policy.rehearseOn through the reconciler, every edge a fake: its DSN is resolved by the same
// SecretResolver as spec.database's (asked with the rehearseOn source, in the resource's
// namespace) and handed to the rehearsal as the server for the copy, while the engine keeps the
// source's DSN; a source that cannot be read fails the pass (InvalidDatabaseSource, naming
// spec.policy.rehearseOn.dsnFrom) before the rehearsal, the backup or any change, and an
// unreachable one (the API server) is retried; the password reaches no status or event.
// The ory engine: the rehearsal gets a factory that builds the migrator for the copy's DSN through
// the same EngineFactory; with a Secret-held DSN (a Kubernetes Job would read the real database's)
// it gets none, and the reason instead.
#include <gtest/gtest.h>

#include "api/conditions.h"
#include "reconcilers/schemaupgrade/secret_resolver.h"
#include "reconcilers/schemaupgrade/status_json.h"
#include "tests/unit/reconciler/reconciler_fixture.h"

namespace su::testing {
namespace {

constexpr const char* kRehearsalDsn = "postgres://scratch:rehearsal-pw-42@rehearse.internal:5432/postgres";

// Resolves env KRATOS_DSN (the database) and Secret rehearsal-db key dsn (the rehearsal server);
// `secret_error` instead of the Secret when set. Records every source it was asked for.
class FakeResolver : public SecretResolver {
 public:
  Result<std::string> ResolveDsn(const SchemaUpgrade& su) override {
    asked.push_back(su.namespace_ + ":" + (su.dsn.kind == DsnSource::Kind::kEnv ? "env/" + su.dsn.env
                                                                                : "secret/" + su.dsn.secret_name + "/" +
                                                                                      su.dsn.secret_key));
    if (su.dsn.kind == DsnSource::Kind::kEnv && su.dsn.env == "KRATOS_DSN") return std::string(kDsn);
    if (su.dsn.kind == DsnSource::Kind::kSecretKeyRef && su.dsn.secret_name == "kratos-db") return std::string(kDsn);
    if (!secret_error.ok()) return secret_error;
    if (su.dsn.kind == DsnSource::Kind::kSecretKeyRef && su.dsn.secret_name == "rehearsal-db") {
      return std::string(kRehearsalDsn);
    }
    return Status::Invalid("unexpected source");
  }
  std::vector<std::string> asked;
  Status secret_error = Status::Ok();
};

class RehearseOnTest : public ReconcilerFixture {
 protected:
  void SetUp() override {
    ReconcilerFixture::SetUp();
    su_.policy.rehearse = true;
    su_.policy.rehearse_on_set = true;
    su_.policy.rehearse_on.kind = DsnSource::Kind::kSecretKeyRef;
    su_.policy.rehearse_on.secret_name = "rehearsal-db";
    su_.policy.rehearse_on.secret_key = "dsn";
  }
  ReconcileOutcome RunWithRehearsal() {
    ReconcilerDeps d = Deps();
    d.secrets = &resolver_;
    d.rehearse = [this](Engine*, const std::string& dsn, const RehearsalOptions& o, const RunContext&) {
      rehearsed_sources_.push_back(dsn);
      copy_engine_missing_ = o.engine_for_copy_missing;
      if (o.engine_for_copy) {
        auto e = o.engine_for_copy(kCopyDsn);
        copy_engines_built_ += e.ok() ? 1 : 0;
      }
      rehearsed_servers_.push_back(o.scratch.server_dsn);
      RehearsalReport r;
      r.ran = r.ok = r.dropped = true;
      r.other_server = !o.scratch.server_dsn.empty();
      r.copy_method = "dump-restore";
      return r;
    };
    Reconciler r(d);
    return r.Reconcile(su_, {});
  }
  void ExpectNoRehearsalPassword(const ReconcileOutcome& out) {
    const std::string text = StatusToJson(out.status) + out.result.ToString() + StatusToJson(Stored());
    EXPECT_EQ(text.find("rehearsal-pw-42"), std::string::npos) << text;
    for (const auto& e : events_) EXPECT_EQ(e.find("rehearsal-pw-42"), std::string::npos) << e;
  }
  static constexpr const char* kCopyDsn = "postgres://kratos:pw@db:5432/su_rehearse_0123456789ab";
  FakeResolver resolver_;
  std::vector<std::string> rehearsed_sources_, rehearsed_servers_;
  std::string copy_engine_missing_;
  int copy_engines_built_ = 0;
};

TEST_F(RehearseOnTest, TheRehearsalServerIsResolvedLikeTheDatabaseAndHandedToTheRehearsal) {
  auto out = RunWithRehearsal();

  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(resolver_.asked, (std::vector<std::string>{"ciam:env/KRATOS_DSN", "ciam:secret/rehearsal-db/dsn"}));
  EXPECT_EQ(rehearsed_sources_, std::vector<std::string>{kDsn}) << "the copy is made from the source";
  EXPECT_EQ(rehearsed_servers_, std::vector<std::string>{kRehearsalDsn}) << "on the rehearsal server";
  for (const auto& dsn : engine_dsns_) EXPECT_EQ(dsn, kDsn) << "the engine runs on the source, never the rehearsal server";
  EXPECT_NE(Stored().rehearsal.find("rehearsal ok on a copy on the rehearsal server"), std::string::npos)
      << Stored().rehearsal;
  ExpectNoRehearsalPassword(out);
}

TEST_F(RehearseOnTest, WithoutRehearseOnTheCopyStaysOnTheSourcesServer) {
  su_.policy.rehearse_on_set = false;
  auto out = RunWithRehearsal();
  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(resolver_.asked, std::vector<std::string>{"ciam:env/KRATOS_DSN"});
  EXPECT_EQ(rehearsed_servers_, std::vector<std::string>{""});
}

TEST_F(RehearseOnTest, AnUnreadableRehearsalSourceFailsBeforeAnyChangeNamingItsField) {
  resolver_.secret_error = Status::Invalid("ciam/kratos: spec.database.dsnFrom.secretKeyRef: Secret ciam/rehearsal-db "
                                           "does not exist");
  auto out = RunWithRehearsal();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kInvalidDatabaseSource);
  EXPECT_NE(out.result.message().find("spec.policy.rehearseOn.dsnFrom.secretKeyRef: Secret ciam/rehearsal-db does not "
                                      "exist"),
            std::string::npos)
      << out.result.message();
  EXPECT_EQ(out.result.message().find("spec.database"), std::string::npos) << out.result.message();
  EXPECT_TRUE(rehearsed_servers_.empty()) << "no rehearsal without its server";
  ExpectWorldUntouched();
}

TEST_F(RehearseOnTest, AnUnreachableSecretSourceIsRetried) {
  resolver_.secret_error = Status::Error(Code::kUnavailable, "spec.database.dsnFrom.secretKeyRef: reading Secret "
                                                             "ciam/rehearsal-db: connection refused");
  auto out = RunWithRehearsal();
  EXPECT_EQ(out.kind, OutcomeKind::kRetryAfter) << out.result.ToString();
  EXPECT_EQ(out.reason, reasons::kInvalidDatabaseSource);
  EXPECT_TRUE(rehearsed_servers_.empty());
  ExpectWorldUntouched();
}

TEST_F(RehearseOnTest, TheOryMigratorIsBuiltForTheCopysDsnThroughTheSameFactory) {
  su_.policy.rehearse_on_set = false;
  world_.engine_name = "ory";
  auto out = RunWithRehearsal();

  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(copy_engines_built_, 1);
  EXPECT_EQ(copy_engine_missing_, "");
  ASSERT_FALSE(engine_dsns_.empty());
  EXPECT_EQ(engine_dsns_.back(), kCopyDsn) << "the copy's engine gets the copy's DSN";
  for (size_t i = 0; i + 1 < engine_dsns_.size(); ++i) EXPECT_EQ(engine_dsns_[i], kDsn);
}

TEST_F(RehearseOnTest, AnOryDsnHeldInASecretIsNotRehearsedAndTheReasonSaysWhy) {
  su_.policy.rehearse_on_set = false;
  world_.engine_name = "ory";
  su_.dsn.kind = DsnSource::Kind::kSecretKeyRef;
  su_.dsn.secret_name = "kratos-db";
  su_.dsn.secret_key = "dsn";
  auto out = RunWithRehearsal();

  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(copy_engines_built_, 0) << "a Job would read the real database's Secret";
  EXPECT_NE(copy_engine_missing_.find("spec.database.dsnFrom.secretKeyRef"), std::string::npos) << copy_engine_missing_;
  for (const auto& dsn : engine_dsns_) EXPECT_EQ(dsn, kDsn);
}

}  // namespace
}  // namespace su::testing
