#include "reconcilers/base/result.h"

#include <gtest/gtest.h>

namespace su {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::Invalid("odd");
  return x / 2;
}

Status Quarter(int x, int* out) {
  SU_ASSIGN_OR_RETURN(int h, Half(x));
  SU_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(ResultTest, PropagatesErrorsAndValues) {
  int q = 0;
  EXPECT_TRUE(Quarter(8, &q).ok());
  EXPECT_EQ(q, 2);
  Status s = Quarter(6, &q);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.WithContext("m.yaml").message(), "m.yaml: odd");
}

TEST(ResultTest, ExitCodesAreDocumentedOnes) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(Status::Failed("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::Invalid("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::Error(Code::kLockBusy, "x")), 3);
  EXPECT_EQ(ExitCodeFor(Status::Error(Code::kGated, "x")), 4);
}

}  // namespace
}  // namespace su
