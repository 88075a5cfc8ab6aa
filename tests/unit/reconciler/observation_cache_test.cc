// ObservationCache keeps each entry's digest as its 32 bytes (issue 10's memory): a hit needs the
// very digest it was stored under, a digest differing in one hex digit misses, digests that are
// not SHA-256 hex (any string) still work, and an entry is due for a full read after full_every.
#include <gtest/gtest.h>

#include <cctype>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/schemaupgrade/observation_cache.h"

namespace su::testing {
namespace {

EngineState AtTarget(const std::string& version) {
  EngineState s;
  s.current_version = version;
  s.latest_version = version;
  return s;
}

TEST(ObservationCacheTest, HitsOnlyUnderTheSameDigest) {
  FakeClock clock{Clock::TimePoint{}};
  ObservationCache cache(std::chrono::minutes(10), &clock);
  const std::string d1 = Sha256Hex("one"), d2 = Sha256Hex("two");
  cache.Put("ns/a", d1, "shared", AtTarget("3"));
  auto hit = cache.Find("ns/a", d1);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->current_version, "3");
  EXPECT_EQ(cache.Find("ns/a", d2), nullptr);
  std::string near = d1;
  near[63] = near[63] == '0' ? '1' : '0';  // the last hex digit differs: the last byte's low nibble
  EXPECT_EQ(cache.Find("ns/a", near), nullptr);
  EXPECT_EQ(cache.Find("ns/b", d1), nullptr);
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.misses(), 3);
}

TEST(ObservationCacheTest, AnyStringWorksAsADigest) {
  FakeClock clock{Clock::TimePoint{}};
  ObservationCache cache(std::chrono::minutes(10), &clock);
  std::string upper = Sha256Hex("x");
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  cache.Put("k", "short", "s", AtTarget("1"));
  cache.Put("u", upper, "s", AtTarget("1"));
  EXPECT_NE(cache.Find("k", "short"), nullptr);
  EXPECT_EQ(cache.Find("k", "shorT"), nullptr);
  EXPECT_NE(cache.Find("u", upper), nullptr);
  EXPECT_EQ(cache.Find("u", Sha256Hex("x")), nullptr);  // not folded to the lowercase digest
}

TEST(ObservationCacheTest, EntryIsDueForAFullReadAfterFullEvery) {
  FakeClock clock{Clock::TimePoint{}};
  ObservationCache cache(std::chrono::seconds(60), &clock);
  const std::string d = Sha256Hex("d");
  cache.Put("k", d, "s", AtTarget("1"));
  clock.Advance(std::chrono::seconds(59));
  EXPECT_NE(cache.Find("k", d), nullptr);
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(cache.Find("k", d), nullptr);
}

TEST(ObservationCacheTest, PendingStatesAreNotKept) {
  FakeClock clock{Clock::TimePoint{}};
  ObservationCache cache(std::chrono::minutes(10), &clock);
  EngineState s = AtTarget("1");
  s.pending.push_back(PendingMigration{});
  const std::string d = Sha256Hex("d");
  cache.Put("k", d, "s", s);
  EXPECT_EQ(cache.Find("k", d), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(SharedVectorTest, CopiesShareUntilOneIsChanged) {
  SharedVector<AppliedMigration> a;
  EXPECT_TRUE(a.empty());
  a.push_back({"1", "one", "", ""});
  SharedVector<AppliedMigration> b = a;
  EXPECT_EQ(&a.get(), &b.get()) << "a copy shares the buffer";
  b.push_back({"2", "two", "", ""});
  EXPECT_EQ(a.size(), 1u) << "a change to the copy leaves the original alone";
  EXPECT_EQ(b.size(), 2u);
  EXPECT_NE(&a.get(), &b.get());
  const std::vector<AppliedMigration>* before = &b.get();
  b.emplace_back().version = "3";
  EXPECT_EQ(&b.get(), before) << "a sole owner changes in place";
  EXPECT_EQ(b.back().version, "3");
  SharedVector<AppliedMigration> c = b;
  c.clear();
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(b.size(), 3u);
}

}  // namespace
}  // namespace su::testing
