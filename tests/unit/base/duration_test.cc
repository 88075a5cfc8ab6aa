#include "reconcilers/base/duration.h"

#include <gtest/gtest.h>

namespace su {
namespace {

TEST(DurationTest, ParsesUnitsAndCombinations) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("5s")->count(), 5000);
  EXPECT_EQ(ParseDuration("30m")->count(), 1800000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("0")->count(), 0);
}

TEST(DurationTest, RejectsGarbageNamingIt) {
  auto r = ParseDuration("5 minutes");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"5 minutes\""), std::string::npos);
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("10d").ok());
}

TEST(DurationTest, BoundedSoThatNothingOverflows) {
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "1000000000h";  // summed, this overflowed int64 silently
  auto r = ParseDuration(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is longer than 8760h (365 days)"), std::string::npos) << r.status().message();
  EXPECT_LT(r.status().message().size(), 200u) << "the text is cut, not echoed whole";
  EXPECT_EQ(ParseDuration("8760h")->count(), kMaxDuration.count());
  EXPECT_FALSE(ParseDuration("8760h1ms").ok());
}

TEST(DurationTest, FormatsShortestForm) {
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(90000)), "1m30s");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(500)), "500ms");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(7200000)), "2h");
}

}  // namespace
}  // namespace su
