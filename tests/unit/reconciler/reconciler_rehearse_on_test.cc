// policy.rehearseOn through the reconciler, every edge a fake: its DSN is resolved by the same
// SecretResolver as spec.database's (asked with the rehearseOn source, in the resource's
// namespace) and handed to the rehearsal as the server for the copy, while the engine keeps the
// source's DSN; a source that cannot be read fails the pass (InvalidDatabaseSource, naming
// spec.policy.rehearseOn.dsnFrom) before the rehearsal, the backup or any change, and an
// unreachable one (the API server) is retried; the password reaches no status or event.
// The ory engine: the rehearsal gets a factory that builds the migrator for the copy's DSN through
// the same EngineFactory. With a Secret-held DSN (a Kubernetes Job reads the DSN from a Secret) the
// copy's DSN is put into a Secret of the resource's own before the copy's migrator is built, that
// migrator reads it (never the real one), and it is deleted when the rehearsal ends: after a
// success, a failure, or a migrator that could not even be built; a leftover of a killed pass is
// replaced. Without a SecretWriter (not Kubernetes) it is not rehearsed, and the reason says why.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "api/conditions.h"
#include "reconcilers/schemaupgrade/secret_resolver.h"
#include "reconcilers/schemaupgrade/status_json.h"
#include "tests/support/fakes/fake_secret_writer.h"
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
    if (with_writer_) d.secret_writer = &writer_;
    auto make = d.make_engine;
    d.make_engine = [this, make](const SchemaUpgrade& su, const std::string& dsn,
                                 const std::string& image) -> Result<std::unique_ptr<Engine>> {
      const std::string ref = su.dsn.kind == DsnSource::Kind::kSecretKeyRef
                                  ? su.dsn.secret_name + "/" + su.dsn.secret_key
                                  : "(no Secret)";
      engine_secrets_.push_back(ref);
      journal_.push_back("engine for " + ref);
      if (dsn == kCopyDsn && !copy_engine_error_.ok()) return copy_engine_error_;
      return make(su, dsn, image);
    };
    d.rehearse = [this](Engine*, const std::string& dsn, const RehearsalOptions& o, const RunContext&) {
      rehearsed_sources_.push_back(dsn);
      copy_engine_missing_ = o.engine_for_copy_missing;
      RehearsalReport r;
      r.ran = r.dropped = true;
      r.copy_method = "dump-restore";
      if (o.engine_for_copy) {
        auto e = o.engine_for_copy(kCopyDsn);
        copy_engines_built_ += e.ok() ? 1 : 0;
        if (!e.ok()) {
          r.error = e.status().WithContext("building the migrator for the rehearsal copy").message();
          return r;
        }
        // The copy's migrator runs now: what its Secret holds at this moment is what it reads.
        journal_.push_back("copy migrator runs");
        secret_while_running_ = writer_.Data("ciam/kratos-rehearsal-dsn");
      }
      rehearsed_servers_.push_back(o.scratch.server_dsn);
      r.ok = !fail_rehearsal_;
      r.other_server = !o.scratch.server_dsn.empty();
      if (fail_rehearsal_) {
        r.error = "ERROR: column \"devices\" does not exist";
        r.failed_version = "20240201000002";
      }
      return r;
    };
    Reconciler r(d);
    return r.Reconcile(su_, {});
  }
  // The ory engine with its DSN in Secret kratos-db (key dsn), as on Kubernetes.
  void OryFromSecret() {
    su_.policy.rehearse_on_set = false;
    world_.engine_name = "ory";
    su_.dsn.kind = DsnSource::Kind::kSecretKeyRef;
    su_.dsn.secret_name = "kratos-db";
    su_.dsn.secret_key = "dsn";
    su_.uid = "0b5e-uid";
  }
  // Where the entry `what` is in the journal (journal_.size() when it is not there).
  size_t At(const std::string& what) const {
    for (size_t i = 0; i < journal_.size(); ++i) {
      if (journal_[i] == what) return i;
    }
    return journal_.size();
  }
  std::string Journal() const {
    std::string out;
    for (const auto& j : journal_) out += j + "\n";
    return out;
  }
  void ExpectNoRehearsalPassword(const ReconcileOutcome& out) {
    const std::string text = StatusToJson(out.status) + out.result.ToString() + StatusToJson(Stored());
    EXPECT_EQ(text.find("rehearsal-pw-42"), std::string::npos) << text;
    for (const auto& e : events_) EXPECT_EQ(e.find("rehearsal-pw-42"), std::string::npos) << e;
  }
  static constexpr const char* kCopyDsn = "postgres://kratos:s3cret-pw@db.internal:5432/su_rehearse_0123456789ab";
  FakeResolver resolver_;
  FakeSecretWriter writer_{&journal_};
  bool with_writer_ = true;
  bool fail_rehearsal_ = false;
  Status copy_engine_error_ = Status::Ok();
  std::vector<std::string> engine_secrets_;  // the Secret each engine was built to read
  std::map<std::string, std::string> secret_while_running_;
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

TEST_F(RehearseOnTest, AnOryDsnHeldInASecretIsRehearsedThroughASecretOfTheCopysOwn) {
  OryFromSecret();
  auto out = RunWithRehearsal();

  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(copy_engines_built_, 1);
  EXPECT_EQ(copy_engine_missing_, "");
  // Written before the copy's migrator is built, read by it, deleted after it ran and before the
  // real run; the real database's engines read the real Secret.
  const size_t put = At("put ciam/kratos-rehearsal-dsn dsn"), built = At("engine for kratos-rehearsal-dsn/dsn"),
               ran = At("copy migrator runs"), del = At("delete ciam/kratos-rehearsal-dsn"), apply = At("apply");
  EXPECT_LT(put, built) << Journal();
  EXPECT_LT(built, ran) << Journal();
  EXPECT_LT(ran, del) << Journal();
  EXPECT_LT(del, apply) << Journal();
  EXPECT_EQ(secret_while_running_, (std::map<std::string, std::string>{{"dsn", kCopyDsn}}));
  EXPECT_FALSE(writer_.Exists("ciam/kratos-rehearsal-dsn")) << "deleted after the rehearsal";
  for (const auto& ref : engine_secrets_) {
    if (ref != "kratos-rehearsal-dsn/dsn") {
      EXPECT_EQ(ref, "kratos-db/dsn");
    }
  }
  EXPECT_EQ(std::count(engine_secrets_.begin(), engine_secrets_.end(), "kratos-rehearsal-dsn/dsn"), 1);
  EXPECT_EQ(world_.applies, 1) << "then the real run";
  // The copy's DSN (the real one's password) reaches no status, error or event.
  const std::string text = StatusToJson(out.status) + out.result.ToString() + StatusToJson(Stored());
  EXPECT_EQ(text.find("s3cret-pw"), std::string::npos) << text;
  for (const auto& e : events_) EXPECT_EQ(e.find("s3cret-pw"), std::string::npos) << e;
}

TEST_F(RehearseOnTest, TheCopysSecretIsDeletedWhenTheRehearsalFails) {
  OryFromSecret();
  fail_rehearsal_ = true;
  auto out = RunWithRehearsal();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kRehearsalFailed);
  EXPECT_EQ(secret_while_running_, (std::map<std::string, std::string>{{"dsn", kCopyDsn}}));
  EXPECT_LT(At("copy migrator runs"), At("delete ciam/kratos-rehearsal-dsn")) << Journal();
  EXPECT_FALSE(writer_.Exists("ciam/kratos-rehearsal-dsn"));
  ExpectWorldUntouched();
  EXPECT_EQ(out.result.message().find("s3cret-pw"), std::string::npos) << out.result.message();
}

TEST_F(RehearseOnTest, TheCopysSecretIsDeletedWhenItsMigratorCannotBeBuilt) {
  OryFromSecret();
  copy_engine_error_ = Status::Invalid("the target image cannot be read");
  auto out = RunWithRehearsal();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kRehearsalFailed);
  EXPECT_NE(out.result.message().find("the target image cannot be read"), std::string::npos) << out.result.message();
  EXPECT_LT(At("put ciam/kratos-rehearsal-dsn dsn"), At("delete ciam/kratos-rehearsal-dsn")) << Journal();
  EXPECT_EQ(At("copy migrator runs"), journal_.size());
  EXPECT_FALSE(writer_.Exists("ciam/kratos-rehearsal-dsn"));
  ExpectWorldUntouched();
}

TEST_F(RehearseOnTest, ASecretThatCannotBeWrittenStopsTheRehearsalNamingIt) {
  OryFromSecret();
  writer_.put_error = Status::Failed("cannot create Secret ciam/kratos-rehearsal-dsn: 403 Forbidden; grant create");
  auto out = RunWithRehearsal();

  EXPECT_EQ(out.kind, OutcomeKind::kFailed);
  EXPECT_EQ(out.reason, reasons::kRehearsalFailed);
  EXPECT_NE(out.result.message().find("writing the copy's DSN into Secret ciam/kratos-rehearsal-dsn"), std::string::npos)
      << out.result.message();
  EXPECT_EQ(copy_engines_built_, 0) << "no migrator without its Secret";
  EXPECT_EQ(std::count(engine_secrets_.begin(), engine_secrets_.end(), "kratos-rehearsal-dsn/dsn"), 0);
  EXPECT_NE(At("delete ciam/kratos-rehearsal-dsn"), journal_.size()) << "a half-made one is cleaned up too";
  ExpectWorldUntouched();
}

TEST_F(RehearseOnTest, ALeftoverSecretOfAKilledPassIsReplaced) {
  OryFromSecret();
  writer_.Seed("ciam/kratos-rehearsal-dsn", {{"dsn", "postgres://kratos:old@db.internal:5432/su_rehearse_old"}});
  auto out = RunWithRehearsal();

  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(writer_.replaced(), 1);
  EXPECT_EQ(secret_while_running_, (std::map<std::string, std::string>{{"dsn", kCopyDsn}}));
  EXPECT_FALSE(writer_.Exists("ciam/kratos-rehearsal-dsn"));
}

TEST_F(RehearseOnTest, ASecretThatCannotBeDeletedLeavesTheVerdictAlone) {
  OryFromSecret();
  writer_.delete_error = Status::Error(Code::kUnavailable, "the API server is unreachable");
  auto out = RunWithRehearsal();
  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_NE(At("delete ciam/kratos-rehearsal-dsn"), journal_.size());
  EXPECT_EQ(world_.applies, 1);
}

TEST_F(RehearseOnTest, WithoutASecretWriterAnOryDsnHeldInASecretIsNotRehearsedAndTheReasonSaysWhy) {
  OryFromSecret();
  with_writer_ = false;
  auto out = RunWithRehearsal();

  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(copy_engines_built_, 0) << "a Job would read the real database's Secret";
  EXPECT_NE(copy_engine_missing_.find("spec.database.dsnFrom.secretKeyRef"), std::string::npos) << copy_engine_missing_;
  for (const auto& ref : engine_secrets_) EXPECT_EQ(ref, "kratos-db/dsn");
  EXPECT_TRUE(writer_.calls().empty());
}

TEST_F(RehearseOnTest, AnOryDsnFromTheEnvironmentWritesNoSecret) {
  su_.policy.rehearse_on_set = false;
  world_.engine_name = "ory";
  auto out = RunWithRehearsal();
  ASSERT_EQ(out.kind, OutcomeKind::kSucceeded) << out.result.ToString();
  EXPECT_EQ(copy_engines_built_, 1);
  EXPECT_TRUE(writer_.calls().empty()) << "the migrator gets the copy's DSN through its environment";
}

}  // namespace
}  // namespace su::testing
