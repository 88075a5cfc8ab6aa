// Pure parts of the client: Status decoding and mapping, resource paths, the token bucket.
#include <gtest/gtest.h>

#include "kube/api.h"
#include "kube/object_meta.h"
#include "kube/throttle.h"
#include "reconcilers/base/secrets.h"

namespace su::kube {
namespace {

TEST(ApiErrorTest, InvalidStatusKeepsCausesAndMapsToInvalidArgument) {
  const char* body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422,
    "message":"SchemaUpgrade.olympus.io \"x\" is invalid: spec.targetVersion: Invalid value",
    "details":{"causes":[{"reason":"FieldValueInvalid","message":"Invalid value","field":"spec.targetVersion"},
                         {"reason":"FieldValueRequired","message":"Required value","field":"spec.database"}]}})";
  ApiError e = ApiErrorFromResponse(422, body, "create", "/apis/olympus.io/v1alpha1/namespaces/d/schemaupgrades");
  EXPECT_TRUE(e.IsInvalid());
  ASSERT_EQ(e.causes.size(), 2u);
  EXPECT_EQ(e.causes[1].field, "spec.database");
  Status s = e.ToStatus();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("create /apis/olympus.io"), std::string::npos);
  // The cause absent from the message is appended; the one already in it is not repeated.
  EXPECT_NE(s.message().find("causes: spec.database: Required value"), std::string::npos) << s.message();
}

TEST(ApiErrorTest, CodesMapOntoTheProjectCodes) {
  EXPECT_EQ(ApiErrorFromResponse(404, "", "get", "/p").ToStatus().code(), Code::kNotFound);
  ApiError conflict = ApiErrorFromResponse(409, R"({"kind":"Status","reason":"Conflict","code":409})", "update", "/p");
  EXPECT_TRUE(conflict.IsConflict());
  EXPECT_EQ(conflict.ToStatus().code(), Code::kUnavailable);
  ApiError exists = ApiErrorFromResponse(409, R"({"kind":"Status","reason":"AlreadyExists","code":409})", "create", "/p");
  EXPECT_TRUE(exists.IsAlreadyExists());
  EXPECT_FALSE(exists.IsConflict());
  ApiError gone = ApiErrorFromStatusJson(R"({"kind":"Status","reason":"Expired","code":410,"message":"too old"})",
                                         "watch", "/p");
  EXPECT_TRUE(gone.IsGone());
  EXPECT_EQ(gone.http_status, 410);
  EXPECT_EQ(ApiErrorFromResponse(403, "", "delete", "/p").ToStatus().code(), Code::kFailed);
  EXPECT_TRUE(ApiErrorFromResponse(503, "<html>", "get", "/p").IsRetryable());
  EXPECT_NE(ApiErrorFromResponse(503, "<html>", "get", "/p").message.find("HTTP 503: <html>"), std::string::npos);
  EXPECT_EQ(TransportError("get", "/p", "refused").ToStatus().code(), Code::kUnavailable);
}

TEST(ApiErrorTest, RegisteredSecretsAreScrubbed) {
  RegisterSecret("sekrit-token-42");
  ApiError e = ApiErrorFromResponse(400, "bad header Bearer sekrit-token-42", "get", "/p");
  EXPECT_EQ(e.message.find("sekrit-token-42"), std::string::npos) << e.message;
}

TEST(ResourcePathTest, Urls) {
  EXPECT_EQ((ResourcePath{kSchemaUpgrades, "ciam", "kratos", "status"}).Url(),
            "/apis/olympus.io/v1alpha1/namespaces/ciam/schemaupgrades/kratos/status");
  EXPECT_EQ((ResourcePath{kSchemaUpgrades, "", "", ""}).Url(), "/apis/olympus.io/v1alpha1/schemaupgrades");
  EXPECT_EQ((ResourcePath{{"", "v1", "namespaces", false}, "", "default", ""}).Url(), "/api/v1/namespaces/default");
  EXPECT_EQ((ResourcePath{{"", "v1", "configmaps", true}, "a", "x/../y?z", ""}).Url(),
            "/api/v1/namespaces/a/configmaps/x%2F..%2Fy%3Fz");
  EXPECT_EQ((ResourcePath{kSchemaUpgrades, "ciam", "kratos", "status"}).Describe(),
            "schemaupgrades.olympus.io/status \"kratos\" in namespace ciam");
}

TEST(ObjectMetaTest, Parses) {
  auto m = ParseObjectMeta(R"({"metadata":{"name":"a","namespace":"n","uid":"u","resourceVersion":"7",
                                "generation":3,"deletionTimestamp":"2026-01-01T00:00:00Z"}})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->Key(), "n/a");
  EXPECT_EQ(m->generation, 3);
  EXPECT_TRUE(m->deleting);
  EXPECT_FALSE(ParseObjectMeta("{").ok());
  EXPECT_FALSE(ParseObjectMeta(R"({"metadata":{}})").ok());
}

TEST(TokenBucketTest, BurstThenQps) {
  auto t = TokenBucket::Clock::time_point{};
  TokenBucket b(5, 10, [&] { return t; });
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.Reserve().count(), 0) << i;  // the burst
  // The 11th waits one token's time (200 ms at 5 QPS), the 12th two.
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b.Reserve()).count(), 200);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b.Reserve()).count(), 400);
  t += std::chrono::seconds(10);  // refills, but never above the burst
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.Reserve().count(), 0) << i;
  EXPECT_GT(b.Reserve().count(), 0);
  TokenBucket off(0, 0, [&] { return t; });
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.Reserve().count(), 0);
}

}  // namespace
}  // namespace su::kube
