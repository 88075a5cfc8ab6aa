// The REST client against the emulator: TLS verification, token and client-certificate auth, CRUD on
// SchemaUpgrade, Status errors mapped (404, 409, 422 with causes, 403 naming verb and resource), the
// status subresource, server-side apply, watch.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cpprest/json.h>
#include <fstream>
#include <mutex>
#include <thread>

#include "kube/object_meta.h"
#include "kube/rest_client.h"
#include "reconcilers/base/process.h"
#include "tests/support/kube/kube_emulator.h"

namespace su::kube {
namespace {

using su::testing::KubeEmulator;
using su::testing::SchemaUpgradeJson;
using su::testing::TempDir;

ResourcePath Su(const std::string& name = "", const std::string& sub = "") {
  return ResourcePath{kSchemaUpgrades, "default", name, sub};
}

web::json::value J(const std::string& s) { return web::json::value::parse(s); }

class RestClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu_ = new KubeEmulator({"--identity", "viewer=system:serviceaccount:default:viewer"});
    emu_->Start();
    emu_->ApplyCrd();
  }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(emu_, nullptr);
    api_ = emu_->Client();
    ASSERT_TRUE(api_);
  }
  static KubeEmulator* emu_;
  std::unique_ptr<KubeApi> api_;
};
KubeEmulator* RestClientTest::emu_ = nullptr;

TEST_F(RestClientTest, WrongCaFailsWithAClearTlsError) {
  TempDir d;
  ProcessSpec spec;
  spec.argv = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-subj", "/CN=other-ca", "-days", "1", "-keyout", d.Path("other.key"), "-out", d.Path("other.crt")};
  auto gen = PosixProcessRunner()->Run(spec);
  ASSERT_TRUE(gen.ok() && gen->Succeeded()) << (gen.ok() ? gen->Tail() : gen.status().ToString());
  auto cfg = LoadKubeconfig(emu_->Kubeconfig());
  ASSERT_TRUE(cfg.ok());
  std::ifstream in(d.Path("other.crt"));
  cfg->ca_pem.assign(std::istreambuf_iterator<char>(in), {});
  auto client = NewRestClient(*cfg);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto r = (*client)->Get(ResourcePath{{"", "v1", "namespaces", false}, "", "default", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("certificate-authority of kubeconfig " + emu_->Kubeconfig()), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  // The system roots do not know the emulator's CA either: verification is on by default.
  cfg->ca_pem.clear();
  auto sys = NewRestClient(*cfg);
  ASSERT_TRUE(sys.ok());
  EXPECT_FALSE((*sys)->Get(ResourcePath{{"", "v1", "namespaces", false}, "", "default", ""}).ok());
}

TEST_F(RestClientTest, TokenAuthAndRefusedTokenNeverShown) {
  auto ns = api_->Get(ResourcePath{{"", "v1", "namespaces", false}, "", "default", ""});
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  EXPECT_EQ(J(*ns).at("metadata").at("name").as_string(), "default");

  auto cfg = LoadKubeconfig(emu_->Kubeconfig());
  ASSERT_TRUE(cfg.ok());
  const std::string bad = "not-the-token-0123456789";
  cfg->token = StaticToken(bad);
  auto client = NewRestClient(*cfg);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->List(Su());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsUnauthorized()) << r.error().message;
  EXPECT_NE(r.error().message.find("were refused"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find(bad), std::string::npos) << r.error().message;
}

TEST_F(RestClientTest, RotatedTokenFileIsUsedByTheNextRequest) {
  // A tokenFile holding the RBAC-less viewer's token, then rotated (write + rename, as the kubelet
  // does) to the admin token: the next request of the same client carries the new one.
  TempDir d;
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string token_path = d.Write("token", read(emu_->dir() + "/token-viewer"));
  auto cfg = LoadKubeconfig(emu_->Kubeconfig());
  ASSERT_TRUE(cfg.ok());
  cfg->token = FileToken(token_path, "test tokenFile");
  auto client = NewRestClient(*cfg);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->List(Su()).error().IsForbidden());
  d.Write("token.new", read(emu_->dir() + "/token"));
  ASSERT_EQ(rename(d.Path("token.new").c_str(), token_path.c_str()), 0);
  auto r = (*client)->List(Su());
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST_F(RestClientTest, ClientCertificateAuth) {
  auto cfg = LoadKubeconfig(emu_->Kubeconfig("kubeconfig-cert"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_FALSE(cfg->client_cert_pem.empty());
  ASSERT_FALSE(cfg->token);
  auto client = NewRestClient(*cfg);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto r = (*client)->List(Su());
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Without the certificate the same config is anonymous and refused.
  cfg->client_cert_pem.clear();
  cfg->client_key_pem.clear();
  auto anon = NewRestClient(*cfg);
  ASSERT_TRUE(anon.ok());
  EXPECT_TRUE((*anon)->List(Su()).error().IsUnauthorized());
}

TEST_F(RestClientTest, CrudOnSchemaUpgrade) {
  auto created = api_->Create(Su(), SchemaUpgradeJson("crud", "v1.0.0"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto meta = ParseObjectMeta(*created);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->Key(), "default/crud");
  EXPECT_EQ(meta->generation, 1);

  auto again = api_->Create(Su(), SchemaUpgradeJson("crud", "v1.0.0"));
  EXPECT_TRUE(again.error().IsAlreadyExists()) << again.error().message;

  auto got = api_->Get(Su("crud"));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(J(*got).at("spec").at("targetVersion").as_string(), "v1.0.0");

  auto list = api_->List(Su());
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_FALSE(list->resource_version.empty());
  bool found = false;
  for (const auto& item : list->items) {
    auto v = J(item);
    EXPECT_EQ(v.at("kind").as_string(), "SchemaUpgrade");
    EXPECT_EQ(v.at("apiVersion").as_string(), "olympus.io/v1alpha1");
    found |= v.at("metadata").at("name").as_string() == "crud";
  }
  EXPECT_TRUE(found);

  auto merged = api_->Patch(Su("crud"), PatchType::kMerge, R"({"spec":{"targetVersion":"v1.1.0"}})");
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  EXPECT_EQ(J(*merged).at("spec").at("targetVersion").as_string(), "v1.1.0");
  EXPECT_EQ(ParseObjectMeta(*merged)->generation, 2);

  auto jp = api_->Patch(Su("crud"), PatchType::kJson,
                        R"([{"op":"replace","path":"/spec/targetVersion","value":"v1.2.0"}])");
  ASSERT_TRUE(jp.ok()) << jp.error().message;
  EXPECT_EQ(J(*jp).at("spec").at("targetVersion").as_string(), "v1.2.0");

  // Server-side apply: a second manager conflicts on targetVersion unless it forces.
  std::string apply = R"({"apiVersion":"olympus.io/v1alpha1","kind":"SchemaUpgrade","metadata":{"name":"crud",)"
                      R"("namespace":"default"},"spec":{"targetVersion":"v2.0.0"}})";
  auto conflict = api_->Patch(Su("crud"), PatchType::kApply, apply, WriteOptions{"gitops", false});
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(conflict.error().IsConflict()) << conflict.error().message;
  auto forced = api_->Patch(Su("crud"), PatchType::kApply, apply, WriteOptions{"gitops", true});
  ASSERT_TRUE(forced.ok()) << forced.error().message;
  EXPECT_EQ(J(*forced).at("spec").at("targetVersion").as_string(), "v2.0.0");
  auto no_manager = api_->Patch(Su("crud"), PatchType::kApply, apply);
  EXPECT_FALSE(no_manager.ok());

  auto del = api_->Delete(Su("crud"));
  ASSERT_TRUE(del.ok()) << del.error().message;
  auto gone = api_->Get(Su("crud"));
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().IsNotFound());
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_NE(gone.error().message.find("get /apis/olympus.io/v1alpha1/namespaces/default/schemaupgrades/crud"),
            std::string::npos)
      << gone.error().message;
}

TEST_F(RestClientTest, StaleResourceVersionIsAConflict) {
  auto created = api_->Create(Su(), SchemaUpgradeJson("stale", "v1.0.0"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_TRUE(api_->Patch(Su("stale"), PatchType::kMerge, R"({"spec":{"targetVersion":"v1.0.1"}})").ok());
  auto old = J(*created);
  old["spec"]["targetVersion"] = web::json::value::string("v9.9.9");
  auto r = api_->Update(Su("stale"), old.serialize());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 409);
  EXPECT_TRUE(r.error().IsConflict()) << r.error().message;
  EXPECT_EQ(r.status().code(), Code::kUnavailable);  // retryable after a re-read
  // A precondition on delete is checked the same way.
  auto d = api_->Delete(Su("stale"), DeleteOptions{"", ParseObjectMeta(*created)->resource_version, ""});
  EXPECT_TRUE(d.error().IsConflict()) << d.error().message;
}

TEST_F(RestClientTest, InvalidObjectListsTheFieldCauses) {
  auto r = api_->Create(Su(), SchemaUpgradeJson("bad", "not a tag!"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsInvalid()) << r.error().message;
  ASSERT_FALSE(r.error().causes.empty());
  bool field = false;
  for (const auto& c : r.error().causes) field |= c.field == "spec.targetVersion";
  EXPECT_TRUE(field);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("spec.targetVersion"), std::string::npos) << r.status().message();
}

TEST_F(RestClientTest, ForbiddenNamesVerbAndResource) {
  auto viewer = emu_->Client("kubeconfig-viewer");
  ASSERT_TRUE(viewer);
  auto r = viewer->Patch(Su("any", "status"), PatchType::kMerge, R"({"status":{}})");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsForbidden()) << r.error().message;
  EXPECT_NE(r.error().message.find("lack verb \"patch\" on resource \"schemaupgrades/status\" in API group "
                                   "\"olympus.io\" in namespace \"default\""),
            std::string::npos)
      << r.error().message;
}

TEST_F(RestClientTest, StatusSubresourceChangesOnlyStatus) {
  ASSERT_TRUE(api_->Create(Su(), SchemaUpgradeJson("st", "v1.0.0")).ok());
  auto r = api_->Patch(Su("st", "status"), PatchType::kMerge,
                       R"({"status":{"phase":"Succeeded","observedGeneration":1},"spec":{"targetVersion":"v7"}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto v = J(*r);
  EXPECT_EQ(v.at("status").at("phase").as_string(), "Succeeded");
  EXPECT_EQ(v.at("spec").at("targetVersion").as_string(), "v1.0.0");
  EXPECT_EQ(v.at("metadata").at("generation").as_integer(), 1);
  auto spec = api_->Patch(Su("st"), PatchType::kMerge, R"({"spec":{"targetVersion":"v1.0.2"}})");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(J(*spec).at("metadata").at("generation").as_integer(), 2);
  EXPECT_EQ(J(*spec).at("status").at("phase").as_string(), "Succeeded");
}

TEST_F(RestClientTest, WatchDeliversEventsFromAResourceVersionAndStops) {
  auto list = api_->List(Su());
  ASSERT_TRUE(list.ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::string>> seen;  // type, name
  std::stop_source stop;
  ApiResult<bool> result = ApiError{};
  std::thread watcher([&] {
    result = api_->Watch(Su(), WatchOptions{"", "", list->resource_version, true, 0},
                         [&](const WatchEvent& ev) {
                           auto m = ParseObjectMeta(ev.object);
                           std::lock_guard<std::mutex> l(mu);
                           seen.emplace_back(ev.type, m.ok() ? m->name : "");
                           cv.notify_all();
                           return true;
                         },
                         stop.get_token());
  });
  ASSERT_TRUE(api_->Create(Su(), SchemaUpgradeJson("w1", "v1.0.0")).ok());
  ASSERT_TRUE(api_->Patch(Su("w1"), PatchType::kMerge, R"({"spec":{"targetVersion":"v1.0.1"}})").ok());
  ASSERT_TRUE(api_->Delete(Su("w1")).ok());
  auto has = [&](const std::string& type) {
    for (const auto& [t, n] : seen)
      if (t == type && n == "w1") return true;
    return false;
  };
  {
    std::unique_lock<std::mutex> l(mu);
    EXPECT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return has("DELETED"); }));
    EXPECT_TRUE(has("ADDED"));
    EXPECT_TRUE(has("MODIFIED"));
  }
  auto asked = std::chrono::steady_clock::now();
  stop.request_stop();
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(10)) << "stop did not end the watch";
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(*result);
}

TEST_F(RestClientTest, WatchFromACompactedVersionIsGone) {
  auto list = api_->List(Su());
  ASSERT_TRUE(list.ok());
  ASSERT_TRUE(api_->Create(Su(), SchemaUpgradeJson("g1", "v1.0.0")).ok());
  emu_->Hook("compact");
  auto r = api_->Watch(Su(), WatchOptions{"", "", list->resource_version, true, 0},
                       [](const WatchEvent&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsGone()) << r.error().http_status << " " << r.error().reason << " " << r.error().message;
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

TEST_F(RestClientTest, RetryAfterIsHonouredThenReported) {
  emu_->Hook("fail?code=429&count=2&retryAfter=1");
  auto start = std::chrono::steady_clock::now();
  auto ok = api_->List(Su());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));  // waited as told, twice

  auto cfg = LoadKubeconfig(emu_->Kubeconfig());
  ASSERT_TRUE(cfg.ok());
  RestClientOptions opts;
  opts.max_retries = 1;
  auto client = NewRestClient(*cfg, opts);
  ASSERT_TRUE(client.ok());
  emu_->Hook("fail?code=503&count=2&retryAfter=1");
  auto r = (*client)->Get(Su("whatever"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 503);
  EXPECT_TRUE(r.error().IsRetryable());
  EXPECT_EQ(r.error().retry_after_seconds, 1);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  // Without Retry-After the answer comes back at once: the caller decides.
  emu_->Hook("fail?code=500&count=1");
  auto once = api_->Get(Su("whatever"));
  EXPECT_EQ(once.error().http_status, 500);
}

}  // namespace
}  // namespace su::kube
