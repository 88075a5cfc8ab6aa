// The time-zone data race class: maintenance windows are evaluated by several workers at once
// while other threads spawn processes (podman, pg_dump), which read the environment. A window
// implementation that set TZ with setenv/tzset would (1) give one worker the other's zone and (2)
// leak TZ into the children's environment. Two workers evaluate windows in different zones while a
// third spawns `env`; every answer must be the one computed alone, and no child may see a TZ the
// controller did not have. `make tsan` runs this under ThreadSanitizer as well.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "reconcilers/base/process.h"
#include "reconcilers/schemaupgrade/window.h"

namespace su {
namespace {

using std::chrono::minutes;

Clock::TimePoint At(const std::string& s) {
  Clock::TimePoint t;
  EXPECT_TRUE(ParseTime(s, &t)) << s;
  return t;
}

struct Case {
  Clock::TimePoint now;
  bool open;
  Clock::TimePoint next_open;
};

std::vector<Case> Expected(const MaintenanceWindow& w, Clock::TimePoint from) {
  std::vector<Case> out;
  for (int i = 0; i < 96; ++i) {  // every 30 minutes over two days
    auto now = from + minutes(30 * i);
    auto r = CheckWindow(w, now);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    out.push_back({now, r->open, r->next_open});
  }
  return out;
}

TEST(WindowConcurrencyTest, TwoZonesInTwoWorkersWhileAThirdSpawnsProcesses) {
  const char* tz = std::getenv("TZ");
  const std::string parent_tz = tz ? tz : "";
  const MaintenanceWindow new_york{"02:00", "04:00", "America/New_York", {}};
  const MaintenanceWindow tokyo{"02:00", "04:00", "Asia/Tokyo", {}};
  // The zones disagree: 07:30Z is 02:30 in New York (EST) and 16:30 in Tokyo.
  ASSERT_TRUE(CheckWindow(new_york, At("2026-03-02T07:30:00Z"))->open);
  ASSERT_FALSE(CheckWindow(tokyo, At("2026-03-02T07:30:00Z"))->open);
  ASSERT_TRUE(CheckWindow(tokyo, At("2026-03-01T17:30:00Z"))->open);
  const auto from = At("2026-03-01T00:00:00Z");
  const std::vector<Case> want_ny = Expected(new_york, from), want_tokyo = Expected(tokyo, from);

  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::atomic<int> rounds{0};
  auto worker = [&](const MaintenanceWindow& w, const std::vector<Case>& want) {
    while (!stop) {
      for (const auto& c : want) {
        auto r = CheckWindow(w, c.now);
        if (!r.ok() || r->open != c.open || (!c.open && r->next_open != c.next_open)) ++wrong;
      }
      ++rounds;
    }
  };
  std::thread a(worker, std::cref(new_york), std::cref(want_ny));
  std::thread b(worker, std::cref(tokyo), std::cref(want_tokyo));
  std::vector<std::string> leaked;
  int spawned = 0;
  // Spawn until the workers have had many rounds beside the children (at least 20 children).
  for (; spawned < 20 || rounds < 40; ++spawned) {
    ProcessSpec spec;
    spec.argv = {"env"};
    spec.timeout = std::chrono::seconds(60);
    auto r = PosixProcessRunner()->Run(spec);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::istringstream lines(r->out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("TZ=", 0) == 0 && line != "TZ=" + parent_tz) leaked.push_back(line);
    }
    if (spawned > 2000) break;
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0) << "a worker got an answer for another zone";
  EXPECT_TRUE(leaked.empty()) << "a child saw " << leaked.front() << " (the window code set TZ)";
  EXPECT_GE(rounds.load(), 40);
}

// Nothing in the product changes the process environment or the C library's zone while threads
// run: setenv/putenv/unsetenv/tzset race with every getenv (libpq) and exec (podman, pg_dump).
TEST(WindowConcurrencyTest, NoSourceChangesTheEnvironmentOrTheCLibraryZone) {
  namespace fs = std::filesystem;
  const char* d = std::getenv("SU_SOURCE_DIR");
  fs::path root = d && *d ? fs::path(d) : fs::path(SU_SOURCE_DIR_DEFAULT);
  const std::regex call(R"(\b(setenv|putenv|unsetenv|tzset|clearenv)\s*\()");
  int files = 0;
  for (const char* dir : {"reconcilers", "controller", "kube", "api"}) {
    if (!fs::exists(root / dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      auto ext = e.path().extension();
      if (!e.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
      ++files;
      std::ifstream in(e.path());
      int n = 0;
      for (std::string line; std::getline(in, line);) {
        ++n;
        auto code = line.substr(0, line.find("//"));
        if (std::regex_search(code, call)) ADD_FAILURE() << e.path().string() << ":" << n << ": " << line;
      }
    }
  }
  EXPECT_GT(files, 50);
}

}  // namespace
}  // namespace su
