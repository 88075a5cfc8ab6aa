// Unit tests of compose_edit: the image value of one service is read and replaced byte-exactly
// across compose-file layouts; everything else in the file stays identical.
#include "reconcilers/runtimes/podman/compose_edit.h"

#include <gtest/gtest.h>

namespace su {
namespace {

// Replaces the first occurrence of from in text (the expected result of an edit).
std::string ReplaceOnce(std::string text, const std::string& from, const std::string& to) {
  size_t p = text.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) text.replace(p, from.size(), to);
  return text;
}

const char* kOlympus = R"(# Olympus CIAM stack
# (managed by schema-upgrade: only image: lines change)
version: "3.8"

x-defaults: &defaults
  restart: unless-stopped
  image: not/this:one   # anchors elsewhere are left alone

services:
  postgres:
    image: docker.io/library/postgres:16
    environment:
      POSTGRES_PASSWORD: secret

  kratos:
    <<: *defaults
    container_name: ciam-kratos
    image: oryd/kratos:v1.1.0   # bumped by the controller
    command: serve -c /etc/config/kratos/kratos.yml --dev
    depends_on:
      - postgres

  "hydra":
    container_name: ciam-hydra
    image: 'oryd/hydra:v2.2.0'
    environment:
      DSN: postgres://hydra:pw@postgres/hydra

  'athena':
    container_name: ciam-athena
    image: "olympus/athena:1.4.0" # quoted
    healthcheck:
      test: ["CMD", "athena", "health"]

volumes:
  pgdata: {}
)";

TEST(ComposeEditTest, ReadsEachServiceImageWhateverTheQuoting) {
  EXPECT_EQ(GetServiceImage(kOlympus, "kratos").value(), "oryd/kratos:v1.1.0");
  EXPECT_EQ(GetServiceImage(kOlympus, "hydra").value(), "oryd/hydra:v2.2.0");
  EXPECT_EQ(GetServiceImage(kOlympus, "athena").value(), "olympus/athena:1.4.0");
  EXPECT_EQ(GetServiceImage(kOlympus, "postgres").value(), "docker.io/library/postgres:16");
}

TEST(ComposeEditTest, BareValueWithTrailingCommentChangesOnlyTheValueBytes) {
  auto out = SetServiceImage(kOlympus, "kratos", "oryd/kratos:v1.2.0");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, ReplaceOnce(kOlympus, "image: oryd/kratos:v1.1.0   # bumped",
                              "image: oryd/kratos:v1.2.0   # bumped"));
}

TEST(ComposeEditTest, SingleQuotedStaysSingleQuoted) {
  auto out = SetServiceImage(kOlympus, "hydra", "oryd/hydra:v2.3.0");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, ReplaceOnce(kOlympus, "image: 'oryd/hydra:v2.2.0'", "image: 'oryd/hydra:v2.3.0'"));
}

TEST(ComposeEditTest, DoubleQuotedStaysDoubleQuotedWithItsComment) {
  auto out = SetServiceImage(kOlympus, "athena", "olympus/athena:1.5.0-rc.1");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, ReplaceOnce(kOlympus, "image: \"olympus/athena:1.4.0\" # quoted",
                              "image: \"olympus/athena:1.5.0-rc.1\" # quoted"));
}

TEST(ComposeEditTest, AnchorBlockOutsideServicesIsUntouched) {
  auto out = SetServiceImage(kOlympus, "kratos", "oryd/kratos:v9");
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->find("image: not/this:one   # anchors elsewhere"), std::string::npos);
  EXPECT_EQ(GetServiceImage(*out, "postgres").value(), "docker.io/library/postgres:16");
  EXPECT_EQ(GetServiceImage(*out, "hydra").value(), "oryd/hydra:v2.2.0");
}

TEST(ComposeEditTest, SettingTheSameImageIsByteIdentical) {
  auto out = SetServiceImage(kOlympus, "hydra", "oryd/hydra:v2.2.0");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, kOlympus);
}

TEST(ComposeEditTest, ImageLineAnywhereInTheServiceAndOtherIndentWidths) {
  const std::string text =
      "services:\n"
      "    web:\n"
      "        ports: [\"80:80\"]\n"
      "        environment:\n"
      "            image: not-this-one\n"
      "        command: |\n"
      "            image: nor-this\n"
      "        build:\n"
      "            context: .\n"
      "        image:    nginx:1.25     \n"
      "    worker:\n"
      "        image: busybox\n";
  EXPECT_EQ(GetServiceImage(text, "web").value(), "nginx:1.25");
  auto out = SetServiceImage(text, "web", "nginx:1.27");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, ReplaceOnce(text, "image:    nginx:1.25     \n", "image:    nginx:1.27     \n"));
  auto w = SetServiceImage(text, "worker", "busybox:1.36");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, ReplaceOnce(text, "image: busybox\n", "image: busybox:1.36\n"));
}

TEST(ComposeEditTest, CrlfLineEndingsArePreserved) {
  const std::string text = "services:\r\n  app:\r\n    image: a/b:1\r\n    restart: always\r\n";
  auto out = SetServiceImage(text, "app", "a/b:2");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "services:\r\n  app:\r\n    image: a/b:2\r\n    restart: always\r\n");
}

TEST(ComposeEditTest, NoTrailingNewlineAndCommentsBetweenKeys) {
  const std::string text =
      "---\n"
      "# top\n"
      "services:   # the stack\n"
      "# a comment at column 0 inside the block\n"
      "  app:  # the app\n"
      "\n"
      "      # indented comment\n"
      "      image: registry.example.com:5000/team/app@sha256:abc";
  EXPECT_EQ(GetServiceImage(text, "app").value(), "registry.example.com:5000/team/app@sha256:abc");
  auto out = SetServiceImage(text, "app", "registry.example.com:5000/team/app:2.0");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, ReplaceOnce(text, "app@sha256:abc", "app:2.0"));
}

TEST(ComposeEditTest, ServicesBlockNotFirstAndServiceNamesThatArePrefixes) {
  const std::string text =
      "networks:\n"
      "  default: {}\n"
      "services:\n"
      "  kratos-migrate:\n"
      "    image: oryd/kratos:v1.1.0\n"
      "  kratos:\n"
      "    image: oryd/kratos:v1.1.0\n"
      "  kratos2:\n"
      "    image: oryd/kratos:v1.1.0\n"
      "volumes:\n"
      "  kratos:\n"
      "    image: not-a-service\n";
  auto out = SetServiceImage(text, "kratos", "oryd/kratos:v1.2.0");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::string expected = text;
  size_t p = expected.find("  kratos:\n    image: oryd/kratos:v1.1.0");
  expected.replace(p, std::string("  kratos:\n    image: oryd/kratos:v1.1.0").size(),
                   "  kratos:\n    image: oryd/kratos:v1.2.0");
  EXPECT_EQ(*out, expected);
}

TEST(ComposeEditTest, ServiceWithAnchorOnItsKeyLine) {
  const std::string text =
      "services:\n"
      "  base: &base\n"
      "    image: a:1\n"
      "  other:\n"
      "    <<: *base\n"
      "    image: b:1\n";
  auto out = SetServiceImage(text, "base", "a:2");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, ReplaceOnce(text, "image: a:1", "image: a:2"));
  auto o = SetServiceImage(text, "other", "b:2");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(*o, ReplaceOnce(text, "image: b:1", "image: b:2"));
}

TEST(ComposeEditTest, MissingServiceIsNotFoundAndNamesIt) {
  auto r = SetServiceImage(kOlympus, "keto", "oryd/keto:v1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("\"keto\""), std::string::npos) << r.status().message();
}

TEST(ComposeEditTest, MissingImageLineIsNotFoundAndMentionsTheMerge) {
  const std::string text = "services:\n  app:\n    <<: *defaults\n    restart: always\n";
  auto r = GetServiceImage(text, "app");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("service \"app\""), std::string::npos);
  EXPECT_NE(r.status().message().find("<<"), std::string::npos);
  auto plain = GetServiceImage("services:\n  app:\n    build: .\n", "app");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("no image: line"), std::string::npos);
}

TEST(ComposeEditTest, NoServicesBlockIsNotFound) {
  auto r = GetServiceImage("version: '2'\nweb:\n  image: x\n", "web");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("services:"), std::string::npos);
}

TEST(ComposeEditTest, NonPlainImageValuesAreRefused) {
  const char* cases[] = {
      "services:\n  app:\n    image: *img\n",
      "services:\n  app:\n    image: &img a:1\n",
      "services:\n  app:\n    image: !!str a:1\n",
      "services:\n  app:\n    image: >\n      a:1\n",
      "services:\n  app:\n    image:\n      a:1\n",
      "services:\n  app:\n    image: [a]\n",
      "services:\n  app:\n    image: \"a:1\n      b\"\n",
  };
  for (const char* text : cases) {
    auto r = SetServiceImage(text, "app", "a:2");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find("service \"app\""), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("line 3"), std::string::npos) << r.status().message();
  }
}

TEST(ComposeEditTest, FlowStyleServiceIsRefused) {
  auto r = SetServiceImage("services:\n  app: {image: a:1}\n", "app", "a:2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("flow style"), std::string::npos);
}

TEST(ComposeEditTest, InvalidNewImageIsRefusedBeforeTouchingAnything) {
  for (const char* bad : {"", "a b", "a:1 # x", "a'b", "a\"b", "-rf", "x\ny"}) {
    auto r = SetServiceImage(kOlympus, "kratos", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
}

TEST(ComposeEditTest, MultiLinePlainContinuationIsRefused) {
  auto r = GetServiceImage("services:\n  app:\n    image: a:1\n      continued\n", "app");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST(ComposeEditTest, UnparseableFileFailsValidation) {
  // The scanner finds the line, but the file as a whole is not YAML: refuse rather than edit blind.
  auto r = SetServiceImage("services:\n  app:\n    image: a:1\n  - broken: [\n", "app", "a:2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST(ComposeEditTest, DuplicateServiceOrImageIsRefused) {
  auto dup_img = GetServiceImage("services:\n  app:\n    image: a:1\n    image: a:2\n", "app");
  ASSERT_FALSE(dup_img.ok());
  EXPECT_NE(dup_img.status().message().find("two image"), std::string::npos);
}

TEST(ComposeEditTest, ValidImageReferences) {
  EXPECT_TRUE(IsValidImageReference("oryd/kratos:v1.2.0"));
  EXPECT_TRUE(IsValidImageReference("localhost:5000/a/b@sha256:0123abcdef"));
  EXPECT_FALSE(IsValidImageReference("a b"));
  EXPECT_FALSE(IsValidImageReference(":tag"));
}

}  // namespace
}  // namespace su
