// Schema-less sanity check with the real kubectl, offline. `kubectl create --dry-run=client`
// still asks the API server for discovery (REST mapping), so it fails without a cluster;
// `kubectl label --local -f FILE -o name` decodes every object the same way without a server,
// and `kubectl kustomize` builds manifests/ offline. Skipped when kubectl is not installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "reconcilers/base/process.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/artifacts/artifact_files.h"

namespace su::testing {
namespace {

class Kubectl : public ::testing::Test {
 protected:
  // Runs kubectl with a throwaway HOME and kubeconfig so no user config or cluster is used.
  Result<ProcessResult> Run(std::vector<std::string> args) {
    args.insert(args.begin(), "kubectl");
    ProcessSpec spec;
    spec.argv = std::move(args);
    spec.env = {{"HOME", home_.path()}, {"KUBECONFIG", home_.Path("kubeconfig-absent")}};
    spec.timeout = std::chrono::seconds(120);
    return PosixProcessRunner()->Run(spec);
  }

  void SetUp() override {
    auto version = Run({"version", "--client"});
    if (!version.ok() && version.status().code() == Code::kNotFound) GTEST_SKIP() << "kubectl is not installed";
    ASSERT_TRUE(version.ok()) << version.status().message();
  }

  TempDir home_;
};

TEST_F(Kubectl, DecodesEveryManifestOffline) {
  std::vector<std::string> files = YamlFilesUnder("crds");
  for (const auto& f : YamlFilesUnder("manifests")) files.push_back(f);
  int checked = 0;
  for (const auto& file : files) {
    std::string error;
    int objects = 0;
    for (const auto& doc : LoadDocuments(file, &error))
      if (doc["kind"].as<std::string>() != "Kustomization") ++objects;
    if (objects == 0) continue;
    auto r = Run({"label", "--local", "-f", file, "-o", "name", "artifacts-check=ok"});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->exit_code, 0) << file << "\n" << r->Tail();
    EXPECT_EQ(std::count(r->out.begin(), r->out.end(), '\n'), objects) << file << "\n" << r->out;
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

TEST_F(Kubectl, KustomizeBuildsTheInstallBundle) {
  auto r = Run({"kustomize", SourceDir() + "/manifests"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->exit_code, 0) << r->Tail();
  std::multiset<std::string> kinds;
  for (const auto& doc : YAML::LoadAll(r->out)) kinds.insert(doc["kind"].as<std::string>());
  for (const char* kind : {"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole",
                           "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"})
    EXPECT_EQ(kinds.count(kind), 1u) << kind;
  EXPECT_EQ(kinds.count("SchemaUpgrade"), 0u) << "examples must not be installed by the bundle";
}

TEST_F(Kubectl, RejectsAManifestWithoutKind) {
  // Proves the offline check can fail: a document kubectl cannot decode is an error.
  const std::string bad = home_.Write("bad.yaml", "apiVersion: v1\nmetadata:\n  name: x\n");
  auto r = Run({"label", "--local", "-f", bad, "-o", "name", "artifacts-check=ok"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->exit_code, 0) << r->out;
}

}  // namespace
}  // namespace su::testing
