// SetAnnotation (controller/cli/manifest_annotate.h), what `schema-upgrade approve` writes into a
// manifest: block-style metadata edited line by line; flow-style metadata or annotations (one line
// or several) rewritten in place in flow style; every other byte of the file kept.
#include "controller/cli/manifest_annotate.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <vector>

namespace su {
namespace {

const char* kKey = "olympus.io/approved-plan";

std::vector<YAML::Node> Docs(const std::string& text) { return YAML::LoadAll(text); }

TEST(SetAnnotationTest, BlockMetadataGetsAnAnnotationsBlock) {
  const std::string in = "# head comment\nkind: SchemaUpgrade\nmetadata:\n  name: kratos  # the service\nspec: {}\n";
  auto out = SetAnnotation(in, "kratos", kKey, "abc");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "# head comment\nkind: SchemaUpgrade\nmetadata:\n  annotations:\n    olympus.io/approved-plan: \"abc\"\n"
            "  name: kratos  # the service\nspec: {}\n");
}

TEST(SetAnnotationTest, AnExistingBlockAnnotationIsReplaced) {
  const std::string in = "metadata:\n  name: kratos\n  annotations:\n    a: b\n    olympus.io/approved-plan: old\nspec: {}\n";
  auto out = SetAnnotation(in, "kratos", kKey, "new");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "metadata:\n  name: kratos\n  annotations:\n    a: b\n    olympus.io/approved-plan: \"new\"\nspec: {}\n");
}

TEST(SetAnnotationTest, FlowMetadataOnOneLineIsRewrittenInPlace) {
  const std::string in =
      "# kept\napiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: kratos, namespace: ciam}  # tail\n"
      "spec:\n  targetVersion: v1.2.0\n";
  auto out = SetAnnotation(in, "kratos", kKey, "0123");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->rfind("# kept\napiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {", 0), 0u) << *out;
  EXPECT_NE(out->find("}  # tail\nspec:\n  targetVersion: v1.2.0\n"), std::string::npos) << *out;
  YAML::Node d = YAML::Load(*out);
  EXPECT_EQ(d["metadata"]["name"].Scalar(), "kratos");
  EXPECT_EQ(d["metadata"]["namespace"].Scalar(), "ciam");
  EXPECT_EQ(d["metadata"]["annotations"][kKey].Scalar(), "0123");
  EXPECT_EQ(d["metadata"]["annotations"][kKey].Tag(), "!") << "written quoted: a string, not a number";
  EXPECT_EQ(d["spec"]["targetVersion"].Scalar(), "v1.2.0");
}

TEST(SetAnnotationTest, FlowMetadataOverSeveralLinesKeepsQuotedScalarsQuoted) {
  const std::string in = "metadata: {\n  name: kratos,\n  labels: {tier: \"007\", on: 'yes'},\n  annotations: {a: b}\n}\n"
                         "spec: {targetVersion: v2}\n";
  auto out = SetAnnotation(in, "kratos", kKey, "h1");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_NE(out->find("\"007\""), std::string::npos) << *out;
  EXPECT_NE(out->find("\"yes\""), std::string::npos) << *out;
  YAML::Node d = YAML::Load(*out);
  EXPECT_EQ(d["metadata"]["annotations"]["a"].Scalar(), "b");
  EXPECT_EQ(d["metadata"]["annotations"][kKey].Scalar(), "h1");
  EXPECT_EQ(d["metadata"]["labels"]["tier"].Scalar(), "007");
  EXPECT_EQ(d["spec"]["targetVersion"].Scalar(), "v2");
  // Setting it again replaces the value rather than adding a key.
  auto again = SetAnnotation(*out, "kratos", kKey, "h2");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(YAML::Load(*again)["metadata"]["annotations"][kKey].Scalar(), "h2");
  EXPECT_EQ(YAML::Load(*again)["metadata"]["annotations"].size(), 2u);
}

TEST(SetAnnotationTest, FlowAnnotationsUnderBlockMetadata) {
  const std::string in = "metadata:\n  name: kratos\n  annotations: {a: \"true\", olympus.io/approved-plan: old}\n"
                         "  labels:\n    x: y\nspec: {}\n";
  auto out = SetAnnotation(in, "kratos", kKey, "new");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "metadata:\n  name: kratos\n  annotations: {a: \"true\", olympus.io/approved-plan: \"new\"}\n"
                  "  labels:\n    x: y\nspec: {}\n");
}

TEST(SetAnnotationTest, OnlyTheNamedDocumentOfSeveralChanges) {
  const std::string in = "metadata: {name: hydra}\nspec: {}\n---\nmetadata: {name: kratos}\nspec: {}\n";
  auto out = SetAnnotation(in, "kratos", kKey, "abc");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->rfind("metadata: {name: hydra}\nspec: {}\n---\n", 0), 0u) << *out;
  auto docs = Docs(*out);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_FALSE(docs[0]["metadata"]["annotations"]);
  EXPECT_EQ(docs[1]["metadata"]["annotations"][kKey].Scalar(), "abc");
}

TEST(SetAnnotationTest, BadInputIsAnErrorNamingTheResource) {
  auto missing = SetAnnotation("metadata: {name: hydra}\n", "kratos", kKey, "abc");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  auto open = SetAnnotation("metadata: {name: kratos,\nspec: {}\n", "kratos", kKey, "abc");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("metadata of kratos"), std::string::npos) << open.status().message();
}

}  // namespace
}  // namespace su
