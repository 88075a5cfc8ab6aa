// Every YAML file under crds/, manifests/ and the chart's static files parses, and every
// Kubernetes object in them has apiVersion, kind and metadata.name.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/artifacts/artifact_files.h"

namespace su::testing {
namespace {

TEST(Artifacts, EveryYamlFileParses) {
  std::vector<std::string> files = YamlFilesUnder("crds");
  for (const auto& f : YamlFilesUnder("manifests")) files.push_back(f);
  const std::string chart = SourceDir() + "/charts/schema-upgrade-operator/";
  for (const char* f : {"Chart.yaml", "values.yaml"}) files.push_back(chart + f);
  for (const auto& f : YamlFilesUnder("charts/schema-upgrade-operator/crds")) files.push_back(f);
  for (const char* f : {"/crds/Kustomization", "/manifests/Kustomization"}) files.push_back(SourceDir() + f);
  ASSERT_GE(files.size(), 12u) << "artifacts missing under " << SourceDir();
  for (const auto& file : files) {
    std::string error;
    const auto docs = LoadDocuments(file, &error);
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_FALSE(docs.empty()) << file << " has no documents";
  }
}

TEST(Artifacts, EveryObjectHasApiVersionKindAndName) {
  std::vector<std::string> files = YamlFilesUnder("crds");
  for (const auto& f : YamlFilesUnder("manifests")) files.push_back(f);
  int objects = 0;
  for (const auto& file : files) {
    std::string error;
    for (const auto& doc : LoadDocuments(file, &error)) {
      SCOPED_TRACE(file);
      ASSERT_TRUE(doc.IsMap());
      ASSERT_TRUE(doc["apiVersion"].IsScalar());
      ASSERT_TRUE(doc["kind"].IsScalar());
      if (doc["kind"].as<std::string>() == "Kustomization") continue;  // a kustomize file, not an object
      EXPECT_TRUE(doc["metadata"]["name"].IsScalar());
      ++objects;
    }
  }
  // CRD, Namespace, 5 RBAC objects, Deployment, Service, 3 examples.
  EXPECT_GE(objects, 12);
}

}  // namespace
}  // namespace su::testing
