// Kubeconfig / in-cluster loading against files in temp dirs.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "kube/base64.h"
#include "kube/config.h"
#include "reconcilers/base/secrets.h"
#include "tests/support/temp_dir.h"

namespace su::kube {
namespace {

using su::testing::TempDir;

const char kCa[] = "-----BEGIN CERTIFICATE-----\nMIIBcafake\n-----END CERTIFICATE-----\n";
const char kCert[] = "-----BEGIN CERTIFICATE-----\nMIIBcertfake\n-----END CERTIFICATE-----\n";
const char kKey[] = "-----BEGIN PRIVATE KEY-----\nMIIBkeyfake\n-----END PRIVATE KEY-----\n";

std::string TwoContexts(const std::string& user_body, const std::string& cluster_extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
         "clusters:\n"
         "- name: c1\n  cluster:\n    server: https://127.0.0.1:6443/\n" + cluster_extra +
         "- name: c2\n  cluster:\n    server: https://10.0.0.2:443\n    insecure-skip-tls-verify: true\n"
         "users:\n- name: u1\n  user:\n" + user_body +
         "- name: u2\n  user:\n    token: tok-two-xyz\n"
         "contexts:\n"
         "- name: dev\n  context: {cluster: c1, user: u1, namespace: team}\n"
         "- name: prod\n  context: {cluster: c2, user: u2}\n";
}

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(KubeconfigTest, CurrentContextWithDataFieldsAndToken) {
  TempDir d;
  std::string user = "    token: tok-one-abc\n    client-certificate-data: " + Base64Encode(kCert) +
                     "\n    client-key-data: " + Base64Encode(kKey) + "\n";
  std::string path =
      d.Write("config", TwoContexts(user, "    certificate-authority-data: " + Base64Encode(kCa) + "\n"));
  auto r = LoadKubeconfig(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server, "https://127.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(r->ca_pem, kCa);
  EXPECT_FALSE(r->insecure_skip_tls_verify);
  EXPECT_EQ(r->client_cert_pem, kCert);
  EXPECT_EQ(r->client_key_pem, kKey);
  EXPECT_EQ(r->default_namespace, "team");
  ASSERT_TRUE(r->token);
  EXPECT_EQ(*r->token->Token(), "tok-one-abc");
  EXPECT_EQ(r->source, "kubeconfig " + path + " context dev");
  EXPECT_EQ(r->qps, 5);
  EXPECT_EQ(r->burst, 10);
  // The token is registered as a secret: it never reaches a log line or an error.
  EXPECT_EQ(Scrub("Bearer tok-one-abc"), "Bearer ***");
}

TEST(KubeconfigTest, ExplicitContextAndInsecureOnlyWhenSaid) {
  TempDir d;
  std::string path = d.Write("config", TwoContexts("    token: t1-aaaa\n"));
  auto dev = LoadKubeconfig(path);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_FALSE(dev->insecure_skip_tls_verify);
  EXPECT_TRUE(dev->ca_pem.empty());  // system roots, still verified
  auto prod = LoadKubeconfig(path, "prod");
  ASSERT_TRUE(prod.ok()) << prod.status().ToString();
  EXPECT_EQ(prod->server, "https://10.0.0.2:443");
  EXPECT_TRUE(prod->insecure_skip_tls_verify);
  EXPECT_EQ(prod->default_namespace, "default");
}

TEST(KubeconfigTest, FilesResolveAgainstTheKubeconfigDirectory) {
  TempDir d;
  d.Write("kube/pki/ca.crt", kCa);
  d.Write("kube/pki/client.crt", kCert);
  d.Write("kube/pki/client.key", kKey);
  d.Write("kube/token", "  file-token-123\n");
  std::string user = "    tokenFile: token\n    client-certificate: pki/client.crt\n    client-key: " +
                     d.Path("kube/pki/client.key") + "\n";
  std::string path = d.Write("kube/config", TwoContexts(user, "    certificate-authority: pki/ca.crt\n"));
  auto r = LoadKubeconfig(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ca_pem, kCa);
  EXPECT_EQ(r->client_cert_pem, kCert);
  EXPECT_EQ(r->client_key_pem, kKey);
  EXPECT_EQ(*r->token->Token(), "file-token-123");
}

TEST(KubeconfigTest, TokenFileIsReReadWhenItRotates) {
  TempDir d;
  std::string tok = d.Write("token", "first-token-1");
  std::string path = d.Write("config", TwoContexts("    tokenFile: " + tok + "\n"));
  auto r = LoadKubeconfig(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->token->Token(), "first-token-1");
  // The kubelet rotates by writing a new file and renaming it over the old one.
  d.Write("token.new", "second-token-2\n");
  std::filesystem::rename(d.Path("token.new"), tok);
  EXPECT_EQ(*r->token->Token(), "second-token-2");
}

struct BadCase {
  std::string name;
  std::string user;
  std::string cluster_extra;
  std::string context;
  std::string expect;  // substring of the error
};

TEST(KubeconfigTest, ErrorsNameTheFileAndTheField) {
  std::vector<BadCase> cases = {
      {"missing context", "    token: abc1\n", "", "staging", "--context names context \"staging\""},
      {"bad base64", "    token: abc1\n", "    certificate-authority-data: '%%%'\n", "",
       "clusters[c1].cluster.certificate-authority-data is not valid base64"},
      {"not PEM", "    token: abc1\n", "    certificate-authority-data: " + Base64Encode("hello") + "\n", "",
       "clusters[c1].cluster.certificate-authority-data does not hold a PEM certificate"},
      {"missing CA file", "    token: abc1\n", "    certificate-authority: nope/ca.crt\n", "",
       "clusters[c1].cluster.certificate-authority: file "},
      {"both CA forms", "    token: abc1\n",
       "    certificate-authority: ca.crt\n    certificate-authority-data: " + Base64Encode(kCa) + "\n", "",
       "certificate-authority-data and"},
      {"insecure and CA", "    token: abc1\n",
       "    insecure-skip-tls-verify: true\n    certificate-authority-data: " + Base64Encode(kCa) + "\n", "",
       "insecure-skip-tls-verify is true and a certificate-authority is set"},
      {"cert without key", "    client-certificate-data: " + Base64Encode(kCert) + "\n", "", "",
       "users[u1].user: client-certificate and client-key go together"},
      {"missing key file", "    client-certificate-data: " + Base64Encode(kCert) + "\n    client-key: k.pem\n", "",
       "", "users[u1].user.client-key: file "},
      {"missing token file", "    tokenFile: /nonexistent/token\n", "", "",
       "users[u1].user.tokenFile: token file /nonexistent/token cannot be read"},
      {"exec plugin", "    exec: {command: aws}\n", "", "", "users[u1].user.exec is not supported"},
  };
  for (const auto& c : cases) {
    TempDir d;
    std::string path = d.Write("config", TwoContexts(c.user, c.cluster_extra));
    auto r = LoadKubeconfig(path, c.context);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.name << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find("kubeconfig " + path), std::string::npos)
        << c.name << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << c.name << ": " << r.status().message();
  }
}

TEST(KubeconfigTest, StructuralErrors) {
  TempDir d;
  auto yaml = LoadKubeconfig(d.Write("a", "clusters: [\n"));
  ASSERT_FALSE(yaml.ok());
  EXPECT_NE(yaml.status().message().find("not valid YAML at line"), std::string::npos) << yaml.status().message();
  auto nocur = LoadKubeconfig(d.Write("b", "clusters: []\n"));
  ASSERT_FALSE(nocur.ok());
  EXPECT_NE(nocur.status().message().find("current-context is not set"), std::string::npos);
  auto noserver = LoadKubeconfig(d.Write("c",
      "current-context: x\nclusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"));
  ASSERT_FALSE(noserver.ok());
  EXPECT_NE(noserver.status().message().find("clusters[c].cluster.server is missing"), std::string::npos)
      << noserver.status().message();
  auto nocluster = LoadKubeconfig(d.Write("e",
      "current-context: x\ncontexts: [{name: x, context: {cluster: gone}}]\n"));
  ASSERT_FALSE(nocluster.ok());
  EXPECT_NE(nocluster.status().message().find("contexts[x].context.cluster names \"gone\""), std::string::npos)
      << nocluster.status().message();
}

TEST(KubeconfigTest, KubeconfigListMergesFirstWins) {
  TempDir d;
  std::string a = d.Write("a", "current-context: one\n"
                               "clusters: [{name: c, cluster: {server: 'https://first:1'}}]\n"
                               "contexts: [{name: one, context: {cluster: c}}]\n");
  std::string b = d.Write("b", "current-context: two\n"
                               "clusters: [{name: c, cluster: {server: 'https://second:2'}},"
                               " {name: d, cluster: {server: 'https://other:3'}}]\n"
                               "contexts: [{name: two, context: {cluster: d}}]\n");
  auto r = LoadKubeconfig(a + ":" + d.Path("missing") + ":" + b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server, "https://first:1");
  auto two = LoadKubeconfig(a + ":" + b, "two");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->server, "https://other:3");
}

TEST(LoadConfigTest, Precedence) {
  TempDir d;
  std::string flag = d.Write("flag", TwoContexts("    token: flag-tok\n"));
  std::string env = d.Write("env", "current-context: e\nclusters: [{name: c, cluster: {server: 'https://env:1'}}]\n"
                                   "contexts: [{name: e, context: {cluster: c}}]\n");
  d.Write("home/.kube/config", "current-context: h\nclusters: [{name: c, cluster: {server: 'https://home:1'}}]\n"
                               "contexts: [{name: h, context: {cluster: c}}]\n");
  d.Write("sa/token", "sa-token-abc");
  d.Write("sa/ca.crt", kCa);
  d.Write("sa/namespace", "ops\n");
  ConfigOptions o;
  o.in_cluster = {d.Path("sa/token"), d.Path("sa/ca.crt"), d.Path("sa/namespace")};
  o.env = Env({{"KUBECONFIG", env}, {"HOME", d.Path("home")}, {"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
               {"KUBERNETES_SERVICE_PORT", "443"}});
  o.kubeconfig = flag;
  EXPECT_EQ(LoadConfig(o)->server, "https://127.0.0.1:6443");
  o.kubeconfig.clear();
  EXPECT_EQ(LoadConfig(o)->server, "https://env:1");
  o.env = Env({{"HOME", d.Path("home")}, {"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  auto ic = LoadConfig(o);
  ASSERT_TRUE(ic.ok()) << ic.status().ToString();
  EXPECT_EQ(ic->server, "https://10.96.0.1:443");
  EXPECT_EQ(ic->default_namespace, "ops");
  EXPECT_EQ(ic->ca_pem, kCa);
  EXPECT_EQ(*ic->token->Token(), "sa-token-abc");
  o.env = Env({{"HOME", d.Path("home")}});
  EXPECT_EQ(LoadConfig(o)->server, "https://home:1");
  o.env = Env({{"HOME", d.Path("nohome")}});
  auto none = LoadConfig(o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no Kubernetes configuration found"), std::string::npos);
  o.kubeconfig = d.Path("nope");
  auto missing = LoadConfig(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--kubeconfig " + d.Path("nope") + ": no such file"), std::string::npos);
}

TEST(InClusterTest, TokenRotationAndIpv6AndMissingCa) {
  TempDir d;
  d.Write("sa/token", "sa-one-111");
  d.Write("sa/ca.crt", kCa);
  InClusterPaths p{d.Path("sa/token"), d.Path("sa/ca.crt"), d.Path("sa/namespace")};
  auto r = InClusterConfig(Env({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}), p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server, "https://[fd00::1]:443");
  EXPECT_EQ(r->default_namespace, "default");
  EXPECT_EQ(*r->token->Token(), "sa-one-111");
  d.Write("sa/token.tmp", "sa-two-222");
  std::filesystem::rename(d.Path("sa/token.tmp"), d.Path("sa/token"));
  EXPECT_EQ(*r->token->Token(), "sa-two-222");

  auto nohost = InClusterConfig(Env({}), p);
  EXPECT_EQ(nohost.status().code(), Code::kNotFound);
  InClusterPaths noca{d.Path("sa/token"), d.Path("sa/missing.crt"), d.Path("sa/namespace")};
  auto r2 = InClusterConfig(Env({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}), noca);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("in-cluster: service-account CA"), std::string::npos)
      << r2.status().message();
}

}  // namespace
}  // namespace su::kube
