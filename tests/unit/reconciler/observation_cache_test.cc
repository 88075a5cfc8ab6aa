// ObservationCache keeps each entry's digest as its 32 bytes (issue 10's memory): a hit needs the
// very digest it was stored under, a digest differing in one hex digit misses, digests that are
// not SHA-256 hex (any string) still work, and an entry is due for a full read after full_every.
#include <gtest/gtest.h>

#include <cctype>

#include "reconcilers/base/clock.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/schemaupgrade/observation_cache.h"
#include "tests/support/temp_dir.h"

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

// --- Persistence (observation_file.cc): what a short-lived `apply` keeps between runs. ---

// A state with every field a cached (nothing pending) state can hold, with the characters the
// file escapes (tab, newline, CR, %) inside the texts.
EngineState EveryField() {
  EngineState s = AtTarget("0003");
  s.latest_version = "0004";
  s.applied.push_back({"0001", "first\tone", Sha256Hex("1"), "2026-01-01T00:00:00Z"});
  s.applied.push_back({"0002", "100%_sure\nreally\r", "", ""});
  s.drift.push_back({"0002", "second", "/m/0002_second.up.sql", Sha256Hex("a"), Sha256Hex("b"), true});
  s.unknown = {"0003"};
  s.ahead = {"0003"};
  s.notes = {"a note\twith a tab", "%09 is not a tab here"};
  s.table_rows = {{"users", 1200}, {"orders", -1}};
  s.uses_phases = true;
  return s;
}

void ExpectSameState(const EngineState& a, const EngineState& b) {
  EXPECT_EQ(a.current_version, b.current_version);
  EXPECT_EQ(a.latest_version, b.latest_version);
  ASSERT_EQ(a.applied.size(), b.applied.size());
  for (size_t i = 0; i < a.applied.size(); ++i) {
    EXPECT_EQ(a.applied[i].version, b.applied[i].version);
    EXPECT_EQ(a.applied[i].name, b.applied[i].name);
    EXPECT_EQ(a.applied[i].checksum, b.applied[i].checksum);
    EXPECT_EQ(a.applied[i].applied_at, b.applied[i].applied_at);
  }
  ASSERT_EQ(a.drift.size(), b.drift.size());
  for (size_t i = 0; i < a.drift.size(); ++i) {
    EXPECT_EQ(a.drift[i].version, b.drift[i].version);
    EXPECT_EQ(a.drift[i].name, b.drift[i].name);
    EXPECT_EQ(a.drift[i].file, b.drift[i].file);
    EXPECT_EQ(a.drift[i].recorded_checksum, b.drift[i].recorded_checksum);
    EXPECT_EQ(a.drift[i].file_checksum, b.drift[i].file_checksum);
    EXPECT_EQ(a.drift[i].accepted, b.drift[i].accepted);
  }
  EXPECT_EQ(a.unknown, b.unknown);
  EXPECT_EQ(a.ahead, b.ahead);
  EXPECT_EQ(a.notes, b.notes);
  EXPECT_EQ(a.table_rows, b.table_rows);
  EXPECT_EQ(a.uses_phases, b.uses_phases);
  EXPECT_TRUE(b.pending.empty());
  EXPECT_TRUE(b.backfills.empty());
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A state dir's observations file and a wall clock a year after the epoch.
class ObservationCacheFileTest : public ::testing::Test {
 protected:
  TempDir dir_;
  const std::string file_ = dir_.Path("observations");
  FakeClock clock_{Clock::TimePoint{} + std::chrono::hours(24 * 365)};
};

TEST_F(ObservationCacheFileTest, EveryFieldSurvivesAProcessAndASharedStateIsWrittenOnce) {
  const std::string d1 = Sha256Hex("one"), d2 = Sha256Hex("two");
  {
    ObservationCache first(std::chrono::minutes(10), &clock_);
    first.Put("ns/a", d1, "same-db", EveryField());
    first.Put("ns/b", d2, "same-db", EveryField());  // shares a's state
    ASSERT_TRUE(first.Save(LocalFileSystem(), file_, "build-1").ok());
  }
  auto text = LocalFileSystem()->ReadFile(file_);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(Count(*text, "\nS\t"), 1u) << *text;
  EXPECT_EQ(Count(*text, "\nE\t"), 2u) << *text;

  ObservationCache next(std::chrono::minutes(10), &clock_);
  next.Load(LocalFileSystem(), file_, "build-1");
  EXPECT_EQ(next.size(), 2u);
  auto a = next.Find("ns/a", d1);
  auto b = next.Find("ns/b", d2);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ExpectSameState(EveryField(), *a);
  EXPECT_EQ(a.get(), b.get()) << "loaded once, shared again";
  EXPECT_EQ(next.Find("ns/a", d2), nullptr) << "only under its own digest";
}

TEST_F(ObservationCacheFileTest, AnEntryKeepsTheAgeOfItsFullReadAcrossProcesses) {
  const std::string d = Sha256Hex("d");
  {
    ObservationCache first(std::chrono::seconds(60), &clock_);
    first.Put("k", d, "s", AtTarget("1"));
    clock_.Advance(std::chrono::seconds(50));
    first.Put("fresh", d, "s", AtTarget("1"));
    ASSERT_TRUE(first.Save(LocalFileSystem(), file_, "t").ok());
  }
  clock_.Advance(std::chrono::seconds(9));
  {
    ObservationCache next(std::chrono::seconds(60), &clock_);
    next.Load(LocalFileSystem(), file_, "t");
    EXPECT_NE(next.Find("k", d), nullptr) << "59 s after its full read";
    clock_.Advance(std::chrono::seconds(1));
    EXPECT_EQ(next.Find("k", d), nullptr) << "60 s: due for a full read, as in one process";
    EXPECT_NE(next.Find("fresh", d), nullptr);
  }
  {
    ObservationCache later(std::chrono::seconds(60), &clock_);
    later.Load(LocalFileSystem(), file_, "t");
    EXPECT_EQ(later.size(), 1u) << "an entry already due is not loaded";
  }
  // The clock set back before the full read: the entry is not trusted.
  clock_.Set(Clock::TimePoint{} + std::chrono::hours(24 * 300));
  ObservationCache earlier(std::chrono::seconds(60), &clock_);
  earlier.Load(LocalFileSystem(), file_, "t");
  EXPECT_EQ(earlier.size(), 0u);
}

TEST_F(ObservationCacheFileTest, AFileOfAnotherWriterOrDamagedAnywhereIsIgnoredWhole) {
  const std::string d = Sha256Hex("d");
  {
    ObservationCache first(std::chrono::minutes(10), &clock_);
    first.Put("k", d, "s", EveryField());
    ASSERT_TRUE(first.Save(LocalFileSystem(), file_, "build-1").ok());
  }
  const std::string good = *LocalFileSystem()->ReadFile(file_);
  auto loads = [&](const std::string& content, const std::string& tag) {
    dir_.Write("observations", content);
    ObservationCache c(std::chrono::minutes(10), &clock_);
    c.Load(LocalFileSystem(), file_, tag);
    return c.Find("k", d) != nullptr;
  };
  EXPECT_TRUE(loads(good, "build-1"));
  EXPECT_FALSE(loads(good, "build-2")) << "another binary's observations";
  std::string other_format = good;
  other_format.replace(other_format.find("\t1\t"), 3, "\t9\t");
  EXPECT_FALSE(loads(other_format, "build-1"));
  EXPECT_FALSE(loads(good.substr(0, good.rfind("end\t")), "build-1")) << "cut before its last line";
  EXPECT_FALSE(loads(good.substr(0, good.size() - 1), "build-1")) << "the last newline missing";
  std::string bad_escape = good;
  bad_escape.replace(bad_escape.find("%09"), 3, "%0X");
  EXPECT_FALSE(loads(bad_escape, "build-1"));
  std::string unknown_line = good;
  unknown_line.insert(unknown_line.find("\nV\t") + 1, "Q\tx\n");
  EXPECT_FALSE(loads(unknown_line, "build-1"));
  std::string pending_like = good;  // an applied line with a field too many
  pending_like.replace(pending_like.find("\nA\t") + 1, 2, "A\textra\t");
  EXPECT_FALSE(loads(pending_like, "build-1"));
  EXPECT_FALSE(loads("", "build-1"));
}

TEST_F(ObservationCacheFileTest, SaveWritesOnlyWhenAnEntryWasPutOrDroppedSinceTheLoad) {
  const std::string d = Sha256Hex("d");
  {
    ObservationCache first(std::chrono::minutes(10), &clock_);
    first.Put("k", d, "s", AtTarget("1"));
    ASSERT_TRUE(first.Save(LocalFileSystem(), file_, "t").ok());
  }
  ObservationCache next(std::chrono::minutes(10), &clock_);
  next.LoadInBackground(LocalFileSystem(), file_, "t");
  ASSERT_NE(next.Find("k", d), nullptr) << "Find waits for the background load";
  dir_.Write("observations", "marker\n");
  ASSERT_TRUE(next.Save(LocalFileSystem(), file_, "t").ok());
  EXPECT_EQ(*LocalFileSystem()->ReadFile(file_), "marker\n") << "a run that only hit rewrote the file";
  next.Drop("k");
  ASSERT_TRUE(next.Save(LocalFileSystem(), file_, "t").ok());
  ObservationCache after(std::chrono::minutes(10), &clock_);
  after.Load(LocalFileSystem(), file_, "t");
  EXPECT_EQ(after.size(), 0u) << "the dropped entry was saved as gone";
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
