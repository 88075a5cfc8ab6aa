// charts/schema-upgrade-operator: the CRD copy is identical, every .Values reference exists,
// template blocks balance, and the chart agrees with manifests/ (RBAC rules, security context).
// No helm binary is available here, so rendering itself is untested.
#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <regex>
#include <sstream>

#include "tests/unit/artifacts/artifact_files.h"
#include "tests/unit/artifacts/crd_helpers.h"

namespace su::testing {
namespace {

std::string Chart(const std::string& rel) { return SourceDir() + "/charts/schema-upgrade-operator/" + rel; }

std::vector<std::string> Templates() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(Chart("templates"), ec))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Chart, CrdCopyIsIdenticalToCrdsFolder) {
  bool ok1 = false, ok2 = false;
  const std::string original = ReadFileText(SourceDir() + "/" + kCrdRel, &ok1);
  const std::string copy = ReadFileText(Chart("crds/olympus.io_schemaupgrades.yaml"), &ok2);
  ASSERT_TRUE(ok1 && ok2);
  EXPECT_TRUE(original == copy)
      << "charts/schema-upgrade-operator/crds/ is out of date: cp " << kCrdRel << " charts/schema-upgrade-operator/crds/";
  // Only the CRD lives in the chart's crds/.
  EXPECT_EQ(YamlFilesUnder("charts/schema-upgrade-operator/crds").size(), 1u);
}

TEST(Chart, MetadataNamesTheChart) {
  std::string error;
  const auto docs = LoadDocuments(Chart("Chart.yaml"), &error);
  ASSERT_EQ(docs.size(), 1u) << error;
  EXPECT_EQ(docs[0]["apiVersion"].as<std::string>(), "v2");
  EXPECT_EQ(docs[0]["name"].as<std::string>(), "schema-upgrade-operator");
  EXPECT_TRUE(std::regex_match(docs[0]["version"].as<std::string>(), std::regex("^[0-9]+\\.[0-9]+\\.[0-9]+.*$")));
  EXPECT_TRUE(docs[0]["appVersion"].IsScalar());
}

TEST(Chart, EveryValuesReferenceExistsInValuesYaml) {
  std::string error;
  const auto values = LoadDocuments(Chart("values.yaml"), &error);
  ASSERT_EQ(values.size(), 1u) << error;
  for (const char* key : {"image", "replicas", "leaderElection", "watchNamespaces", "resources", "securityContext",
                          "metrics", "serviceMonitor"})
    EXPECT_TRUE(values[0][key].IsDefined()) << "values.yaml lacks " << key;

  const std::regex ref("\\.Values\\.([A-Za-z0-9_]+(?:\\.[A-Za-z0-9_]+)*)");
  int refs = 0;
  for (const auto& file : Templates()) {
    bool ok = false;
    const std::string text = ReadFileText(file, &ok);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), ref); it != std::sregex_iterator(); ++it) {
      ++refs;
      YAML::Node node = YAML::Clone(values[0]);
      std::string path;
      std::stringstream parts((*it)[1].str());
      for (std::string part; std::getline(parts, part, '.');) {
        path += (path.empty() ? "" : ".") + part;
        node = node.IsMap() ? YAML::Clone(node[part]) : YAML::Node(YAML::NodeType::Undefined);
        if (!node.IsDefined()) break;
      }
      EXPECT_TRUE(node.IsDefined()) << file << ": .Values." << (*it)[1].str() << " is not in values.yaml";
    }
  }
  EXPECT_GT(refs, 20);
}

TEST(Chart, TemplateBlocksBalance) {
  const std::regex open("\\{\\{-?\\s*(if|with|range|define)\\b");
  const std::regex end("\\{\\{-?\\s*end\\s*-?\\}\\}");
  const auto templates = Templates();
  ASSERT_GE(templates.size(), 6u);
  for (const auto& file : templates) {
    bool ok = false;
    const std::string text = ReadFileText(file, &ok);
    const auto opens = std::distance(std::sregex_iterator(text.begin(), text.end(), open), std::sregex_iterator());
    const auto ends = std::distance(std::sregex_iterator(text.begin(), text.end(), end), std::sregex_iterator());
    EXPECT_EQ(opens, ends) << file;
    // Every action "{{" closes before the next one opens ("}}" alone is literal text in Go
    // templates, e.g. the JSON patch in NOTES.txt).
    for (size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
      const size_t close = text.find("}}", at + 2);
      const size_t next = text.find("{{", at + 2);
      ASSERT_NE(close, std::string::npos) << file << ": unclosed action at offset " << at;
      EXPECT_TRUE(next == std::string::npos || close < next) << file << ": action at offset " << at << " not closed";
    }
  }
}

TEST(Chart, RbacRulesMatchTheManifestClusterRole) {
  bool ok = false;
  const std::string helpers = ReadFileText(Chart("templates/_helpers.tpl"), &ok);
  ASSERT_TRUE(ok);
  const std::string marker = "define \"schema-upgrade-operator.rules\" -}}";
  const size_t start = helpers.find(marker);
  ASSERT_NE(start, std::string::npos);
  const size_t body = start + marker.size();
  const size_t stop = helpers.find("{{- end }}", body);
  ASSERT_NE(stop, std::string::npos);
  const YAML::Node chart_rules = YAML::Load(helpers.substr(body, stop - body));
  const YAML::Node role = FindDocument(SourceDir() + "/manifests/rbac.yaml", "ClusterRole");
  ASSERT_TRUE(role.IsDefined());
  EXPECT_EQ(Canonical(chart_rules), Canonical(role["rules"]));
}

TEST(Chart, DefaultsMatchTheManifestDeployment) {
  std::string error;
  const auto values = LoadDocuments(Chart("values.yaml"), &error);
  ASSERT_EQ(values.size(), 1u) << error;
  const YAML::Node dep = FindDocument(SourceDir() + "/manifests/deployment.yaml", "Deployment");
  ASSERT_TRUE(dep.IsDefined());
  const YAML::Node pod = dep["spec"]["template"]["spec"];
  EXPECT_EQ(Canonical(values[0]["securityContext"]), Canonical(pod["containers"][0]["securityContext"]));
  EXPECT_EQ(Canonical(values[0]["resources"]), Canonical(pod["containers"][0]["resources"]));
  EXPECT_EQ(Canonical(values[0]["podSecurityContext"]), Canonical(pod["securityContext"]));
  EXPECT_EQ(values[0]["health"]["port"].as<int>(), 8081);
  EXPECT_EQ(values[0]["metrics"]["port"].as<int>(), 8080);
  EXPECT_TRUE(values[0]["leaderElection"]["enabled"].as<bool>());
  EXPECT_FALSE(values[0]["serviceMonitor"]["enabled"].as<bool>());

  bool ok = false;
  const std::string rbac = ReadFileText(Chart("templates/rbac.yaml"), &ok);
  ASSERT_TRUE(ok);
  // watchNamespaces switches the ClusterRole to a Role in each of those namespaces (rendered and
  // checked by tests/emulator/kubeapi/test_helm.py).
  EXPECT_NE(rbac.find("{{- if .Values.watchNamespaces }}"), std::string::npos);
  EXPECT_NE(rbac.find("{{- range $i, $ns := .Values.watchNamespaces }}"), std::string::npos);
}

}  // namespace
}  // namespace su::testing
