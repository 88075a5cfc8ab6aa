// The Kubernetes SecretResolver (controller/kubernetes/kube_secret_resolver.h) against the API
// server emulator: the DSN read from a Secret's base64 data and registered with the scrubber; a
// missing Secret or key is bad input whose message names the Secret, the key and what to do and
// never a value; an identity without `get secrets` is told which permission it lacks.
// The SecretWriter beside it (kube_secret_writer.h): a Secret made with the value only in its data,
// the resource's labels and ownerReference; a leftover of the resource replaced, a Secret of that
// name that is not the resource's never touched (by Put or Delete); Delete of a missing one is ok;
// the resolver reads back what the writer wrote.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include "controller/kubernetes/kube_secret_resolver.h"
#include "controller/kubernetes/kube_secret_writer.h"
#include "kube/api.h"
#include "kube/base64.h"
#include "reconcilers/base/secrets.h"
#include "tests/support/kube/kube_emulator.h"

namespace su {
namespace {

using su::testing::KubeEmulator;

constexpr const char* kDsn = "postgres://kratos:Xq9-sekret-pw@db.ciam:5432/kratos?sslmode=disable";

class KubeSecretResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu_ = new KubeEmulator({"--identity", "nobody=system:serviceaccount:ciam:nobody"});
    emu_->Start();
    auto api = emu_->Client();
    auto ns = api->Create(kube::ResourcePath{{"", "v1", "namespaces", false}}, R"({"metadata":{"name":"ciam"}})");
    ASSERT_TRUE(ns.ok()) << ns.error().Describe();
    // Values the way a real API server stores them: base64 in data (stringData is folded into it).
    std::string body = R"({"metadata":{"name":"kratos-db","namespace":"ciam"},"type":"Opaque","data":{"dsn":")" +
                       kube::Base64Encode(std::string(kDsn) + "\n") + R"(","user":")" + kube::Base64Encode("kratos") +
                       R"(","empty":""}})";
    auto s = api->Create(kube::ResourcePath{kube::kSecrets, "ciam"}, body);
    ASSERT_TRUE(s.ok()) << s.error().Describe();
  }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(emu_, nullptr);
    api_ = emu_->Client();
    resolver_ = kube::NewKubeSecretResolver(api_.get());
  }

  static SchemaUpgrade Resource(const std::string& secret, const std::string& key) {
    SchemaUpgrade su;
    su.name = "kratos";
    su.namespace_ = "ciam";
    su.source_file = "SchemaUpgrade ciam/kratos";
    su.dsn.kind = DsnSource::Kind::kSecretKeyRef;
    su.dsn.secret_name = secret;
    su.dsn.secret_key = key;
    return su;
  }

  static KubeEmulator* emu_;
  std::unique_ptr<kube::KubeApi> api_;
  std::unique_ptr<SecretResolver> resolver_;
};
KubeEmulator* KubeSecretResolverTest::emu_ = nullptr;

TEST_F(KubeSecretResolverTest, ReadsTheDsnFromTheSecretAndRegistersIt) {
  auto dsn = resolver_->ResolveDsn(Resource("kratos-db", "dsn"));
  ASSERT_TRUE(dsn.ok()) << dsn.status().ToString();
  EXPECT_EQ(*dsn, kDsn) << "the trailing newline of `echo ... | base64` is not part of the DSN";
  std::string line = std::string("connecting with ") + kDsn + " failed";
  EXPECT_EQ(Scrub(line).find("Xq9-sekret-pw"), std::string::npos) << Scrub(line);
}

TEST_F(KubeSecretResolverTest, MissingSecretNamesItTheKeyAndWhatToDo) {
  auto dsn = resolver_->ResolveDsn(Resource("kratos-dbx", "dsn"));
  ASSERT_FALSE(dsn.ok());
  EXPECT_EQ(dsn.status().code(), Code::kInvalidArgument);
  const std::string& m = dsn.status().message();
  EXPECT_NE(m.find("SchemaUpgrade ciam/kratos: spec.database.dsnFrom.secretKeyRef: Secret ciam/kratos-dbx does not exist"),
            std::string::npos) << m;
  EXPECT_NE(m.find("kubectl create secret generic kratos-dbx -n ciam --from-literal=dsn="), std::string::npos) << m;
  EXPECT_NE(m.find("looks again"), std::string::npos) << m;
}

TEST_F(KubeSecretResolverTest, MissingKeyListsTheKeysNeverTheValues) {
  auto dsn = resolver_->ResolveDsn(Resource("kratos-db", "DSN"));
  ASSERT_FALSE(dsn.ok());
  EXPECT_EQ(dsn.status().code(), Code::kInvalidArgument);
  const std::string& m = dsn.status().message();
  EXPECT_NE(m.find("Secret ciam/kratos-db has no key DSN (its keys: dsn, empty, user)"), std::string::npos) << m;
  EXPECT_EQ(m.find("Xq9-sekret-pw"), std::string::npos) << m;
  EXPECT_EQ(m.find("db.ciam"), std::string::npos) << m;

  auto empty = resolver_->ResolveDsn(Resource("kratos-db", "empty"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("Secret ciam/kratos-db key empty is empty"), std::string::npos)
      << empty.status().message();
}

TEST_F(KubeSecretResolverTest, ForbiddenNamesThePermission) {
  auto nobody = emu_->Client("kubeconfig-nobody");
  auto resolver = kube::NewKubeSecretResolver(nobody.get());
  auto dsn = resolver->ResolveDsn(Resource("kratos-db", "dsn"));
  ASSERT_FALSE(dsn.ok());
  EXPECT_EQ(dsn.status().code(), Code::kFailed);
  EXPECT_NE(dsn.status().message().find("grant the controller's ServiceAccount `get` on secrets in namespace ciam"),
            std::string::npos) << dsn.status().message();
}

TEST_F(KubeSecretResolverTest, EnvAndFileSourcesResolveLocally) {
  auto resolver = kube::NewKubeSecretResolver(
      api_.get(), {LocalFileSystem(), [](const char* n) -> const char* {
                     return std::string(n) == "KRATOS_DSN" ? "postgres://k:Lc4l-pw@h/db" : nullptr;
                   }, ""});
  SchemaUpgrade su = Resource("", "");
  su.dsn.kind = DsnSource::Kind::kEnv;
  su.dsn.env = "KRATOS_DSN";
  auto dsn = resolver->ResolveDsn(su);
  ASSERT_TRUE(dsn.ok()) << dsn.status().ToString();
  EXPECT_EQ(*dsn, "postgres://k:Lc4l-pw@h/db");
}

TEST_F(KubeSecretResolverTest, TheWriterMakesAnOwnedSecretTheResolverReadsBackAndDeletesIt) {
  auto writer = kube::NewKubeSecretWriter(api_.get());
  // No uid: the emulator's garbage collector would delete a Secret owned by a SchemaUpgrade that
  // does not exist (the owner reference is checked in tests/integration/policies/ory_rehearse_job_test).
  SchemaUpgrade su = Resource("kratos-rehearsal-dsn", "dsn");
  const std::string copy = "postgres://kratos:Xq9-sekret-pw@db.ciam:5432/su_rehearse_0123456789ab";
  ASSERT_TRUE(writer->Put(su, "kratos-rehearsal-dsn", "dsn", copy).ok());

  auto got = api_->Get(kube::ResourcePath{kube::kSecrets, "ciam", "kratos-rehearsal-dsn", ""});
  ASSERT_TRUE(got.ok()) << got.error().Describe();
  auto obj = web::json::value::parse(*got);
  const auto& meta = obj.at("metadata");
  EXPECT_EQ(meta.at("labels").at("olympus.io/schemaupgrade").as_string(), "kratos");
  EXPECT_EQ(meta.at("labels").at("app.kubernetes.io/managed-by").as_string(), "schema-upgrade-operator");
  EXPECT_EQ(meta.at("annotations").at("olympus.io/resource").as_string(), "ciam/kratos");
  EXPECT_EQ(meta.serialize().find("sekret"), std::string::npos) << "the value only in data";
  auto back = resolver_->ResolveDsn(su);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, copy);

  ASSERT_TRUE(writer->Delete(su, "kratos-rehearsal-dsn").ok());
  auto gone = api_->Get(kube::ResourcePath{kube::kSecrets, "ciam", "kratos-rehearsal-dsn", ""});
  EXPECT_TRUE(!gone.ok() && gone.error().IsNotFound());
  EXPECT_TRUE(writer->Delete(su, "kratos-rehearsal-dsn").ok()) << "already gone: ok";
}

TEST_F(KubeSecretResolverTest, TheWriterReplacesItsOwnLeftoverAndNeverTouchesAnotherSecret) {
  auto writer = kube::NewKubeSecretWriter(api_.get());
  SchemaUpgrade su = Resource("hydra-rehearsal-dsn", "dsn");
  su.name = "hydra";
  ASSERT_TRUE(writer->Put(su, "hydra-rehearsal-dsn", "dsn", "postgres://h:old-pw@db/su_old").ok());
  // A killed pass left it: the next Put replaces it.
  ASSERT_TRUE(writer->Put(su, "hydra-rehearsal-dsn", "dsn", "postgres://h:new-pw@db/su_new").ok());
  auto back = resolver_->ResolveDsn(su);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, "postgres://h:new-pw@db/su_new");
  ASSERT_TRUE(writer->Delete(su, "hydra-rehearsal-dsn").ok());

  // kratos-db is the user's: neither replaced nor deleted, and the message names it.
  SchemaUpgrade kratos = Resource("kratos-db", "dsn");
  Status put = writer->Put(kratos, "kratos-db", "dsn", "postgres://k:x-pw@db/other");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.code(), Code::kFailed);
  EXPECT_NE(put.message().find("Secret ciam/kratos-db exists but was not made by this controller"), std::string::npos)
      << put.message();
  EXPECT_FALSE(writer->Delete(kratos, "kratos-db").ok());
  auto still = resolver_->ResolveDsn(kratos);
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_EQ(*still, kDsn);
}

TEST_F(KubeSecretResolverTest, AWriterWithoutCreateOnSecretsNamesThePermission) {
  auto nobody = emu_->Client("kubeconfig-nobody");
  auto writer = kube::NewKubeSecretWriter(nobody.get());
  Status put = writer->Put(Resource("x", "dsn"), "kratos-rehearsal-dsn", "dsn", "postgres://k:Zz-pw@db/x");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.code(), Code::kFailed);
  EXPECT_NE(put.message().find("grant the controller's ServiceAccount `create` on secrets"), std::string::npos)
      << put.message();
  EXPECT_EQ(put.message().find("Zz-pw"), std::string::npos);
}

}  // namespace
}  // namespace su
