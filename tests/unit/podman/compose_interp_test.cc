// Unit tests of compose interpolation in an image value (compose_interp.h): resolving it as
// podman-compose does, and bumping it without losing the operator's variable or mangling it.
#include "reconcilers/runtimes/podman/compose_interp.h"

#include <gtest/gtest.h>

#include <map>

#include "reconcilers/runtimes/podman/compose_edit.h"

namespace su {
namespace {

ComposeLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ComposeInterp, ResolvesDefaultsAndVariablesAsComposeDoes) {
  EXPECT_EQ(*InterpolateCompose("${ATHENA_IMAGE:-registry/athena:v1.0.0}", Env({})), "registry/athena:v1.0.0");
  EXPECT_EQ(*InterpolateCompose("${ATHENA_IMAGE:-registry/athena:v1.0.0}", Env({{"ATHENA_IMAGE", "ci/athena:pr-7"}})),
            "ci/athena:pr-7");
  EXPECT_EQ(*InterpolateCompose("${ATHENA_IMAGE:-r/a:1}", Env({{"ATHENA_IMAGE", ""}})), "r/a:1");  // :- and empty
  EXPECT_EQ(*InterpolateCompose("${ATHENA_IMAGE-r/a:1}", Env({{"ATHENA_IMAGE", ""}})), "");       // - and empty
  EXPECT_EQ(*InterpolateCompose("${REGISTRY:-localhost}/athena:v1.0.0", Env({})), "localhost/athena:v1.0.0");
  EXPECT_EQ(*InterpolateCompose("$REGISTRY/athena:v1", Env({{"REGISTRY", "quay.io"}})), "quay.io/athena:v1");
  EXPECT_FALSE(InterpolateCompose("${REGISTRY:?set REGISTRY}/athena:v1", Env({})).ok());
  EXPECT_FALSE(InterpolateCompose("${REGISTRY/athena:v1", Env({})).ok());
}

TEST(ComposeInterp, BumpEditsInsideTheBracesKeepingTheVariable) {
  auto e = EditInterpolated("${ATHENA_IMAGE:-registry/athena:v1.0.0}", "registry/athena:v1.1.0", Env({}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->written, "${ATHENA_IMAGE:-registry/athena:v1.1.0}");
  EXPECT_NE(e->where.find("default of ${ATHENA_IMAGE"), std::string::npos) << e->where;
}

TEST(ComposeInterp, BumpEditsTheLiteralTagAfterAnInterpolatedRegistry) {
  auto e = EditInterpolated("${REGISTRY:-localhost}/athena:v1.0.0", "localhost/athena:v1.1.0", Env({}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->written, "${REGISTRY:-localhost}/athena:v1.1.0");
  // A registry set by CI stays the variable's: only the literal tag changes.
  auto ci = EditInterpolated("${REGISTRY:-localhost}/athena:v1.0.0", "quay.io/athena:v1.1.0",
                             Env({{"REGISTRY", "quay.io"}}));
  ASSERT_TRUE(ci.ok()) << ci.status().ToString();
  EXPECT_EQ(ci->written, "${REGISTRY:-localhost}/athena:v1.1.0");
}

TEST(ComposeInterp, ABumpThatWouldOverwriteASetVariableIsRefusedNamingIt) {
  auto e = EditInterpolated("${ATHENA_IMAGE:-registry/athena:v1.0.0}", "ci/athena:v1.1.0",
                            Env({{"ATHENA_IMAGE", "ci/athena:v1.0.0"}}));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("ATHENA_IMAGE"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("does not overwrite"), std::string::npos) << e.status().message();
  // spec.image naming another registry than the one the variable supplies: refused too.
  auto r = EditInterpolated("${REGISTRY:-localhost}/athena:v1.0.0", "quay.io/athena:v1.1.0",
                            Env({{"REGISTRY", "ghcr.io"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("REGISTRY"), std::string::npos) << r.status().message();
}

TEST(ComposeInterp, SetServiceImageValueWritesTheInterpolatedValueInItsQuotes) {
  std::string text =
      "services:\n"
      "  athena:\n"
      "    image: \"${REGISTRY:-localhost}/athena:v1.0.0\"  # pinned by CI\n"
      "    restart: always\n";
  auto out = SetServiceImageValue(text, "athena", "${REGISTRY:-localhost}/athena:v1.1.0");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "services:\n"
            "  athena:\n"
            "    image: \"${REGISTRY:-localhost}/athena:v1.1.0\"  # pinned by CI\n"
            "    restart: always\n");
  EXPECT_EQ(*GetServiceImage(*out, "athena"), "${REGISTRY:-localhost}/athena:v1.1.0");
}

TEST(ComposeInterp, DotEnvValuesAreReadLikePythonDotenvSimpleCases) {
  std::string env = "# comment\nexport REGISTRY=quay.io\nATHENA_IMAGE='ci/athena:v2'  \nX=1 # note\n";
  EXPECT_EQ(DotEnvValue(env, "REGISTRY").value_or("?"), "quay.io");
  EXPECT_EQ(DotEnvValue(env, "ATHENA_IMAGE").value_or("?"), "ci/athena:v2");
  EXPECT_EQ(DotEnvValue(env, "X").value_or("?"), "1");
  EXPECT_FALSE(DotEnvValue(env, "MISSING").has_value());
}

}  // namespace
}  // namespace su
