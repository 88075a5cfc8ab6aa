// The SchemaUpgrade codec: API JSON -> SchemaUpgrade with the manifest parser's validation.
#include "controller/kubernetes/schemaupgrade_json.h"

#include <gtest/gtest.h>

namespace su::kube {
namespace {

std::string Object(const std::string& spec_extra = "", const std::string& meta_extra = "") {
  return R"({"apiVersion":"olympus.io/v1alpha1","kind":"SchemaUpgrade","metadata":{"name":"app","namespace":"shop",)"
         R"("uid":"u-1","resourceVersion":"42","generation":3,"creationTimestamp":"2026-12-01T10:00:00Z",)"
         R"("managedFields":[{"manager":"kubectl","operation":"Apply"}],)"
         R"("annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"})" +
         meta_extra + R"(},"spec":{"targetVersion":"v2","database":{"dsnFrom":{"env":"APP_DSN"}},)"
                      R"("migrations":{"engine":"sql","path":"migrations"})" +
         spec_extra + R"(},"status":{"phase":"Succeeded"}})";
}

TEST(SchemaUpgradeJson, DecodesAnApiObjectWithMetadataFromTheServer) {
  SourcedResource r = DecodeSchemaUpgrade(Object(), "/work");
  ASSERT_TRUE(r.resource.ok()) << r.resource.status().ToString();
  EXPECT_EQ(r.key, "shop/app");
  EXPECT_EQ(r.generation, 3);
  const SchemaUpgrade& su = *r.resource;
  EXPECT_EQ(su.Key(), "shop/app");
  EXPECT_EQ(su.generation, 3);
  EXPECT_EQ(su.service, "app");  // defaulted as for a manifest
  EXPECT_EQ(su.target_version, "v2");
  EXPECT_EQ(su.migrations.path, "/work/migrations");  // relative to the controller's folder
  EXPECT_EQ(su.policy.retries.limit, 10);
  EXPECT_FALSE(su.spec_hash.empty());
}

TEST(SchemaUpgradeJson, AnObjectTheCrdAcceptsButWeDoNotNamesTheFieldWithoutALine) {
  SourcedResource r = DecodeSchemaUpgrade(
      Object(R"(,"policy":{"maintenanceWindow":{"start":"02:00","end":"04:00","timeZone":"Mars/Olympus"}})"), "/");
  ASSERT_FALSE(r.resource.ok());
  EXPECT_EQ(r.key, "shop/app");
  EXPECT_EQ(r.generation, 3);
  const std::string msg = r.resource.status().message();
  EXPECT_NE(msg.find("SchemaUpgrade shop/app: spec.policy.maintenanceWindow.timeZone"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("shop/app:1"), std::string::npos) << msg;  // no line numbers of the JSON text
}

TEST(SchemaUpgradeJson, GenerateNameFromTheServerIsAccepted) {
  SourcedResource r = DecodeSchemaUpgrade(Object("", R"(,"generateName":"app-")"), "/");
  EXPECT_TRUE(r.resource.ok()) << r.resource.status().ToString();
}

TEST(SchemaUpgradeJson, NotAnObjectIsAnErrorWithoutKey) {
  SourcedResource r = DecodeSchemaUpgrade("[]", "/");
  EXPECT_FALSE(r.resource.ok());
  EXPECT_EQ(r.key, "");
}

}  // namespace
}  // namespace su::kube
