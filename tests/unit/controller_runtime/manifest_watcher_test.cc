// ManifestWatcher on a real temp folder: create, modify, atomic rename, rename out, delete, resync,
// ConfigMap-style ..data swaps, ignored names, clean stop.
#include "controller/runtime/manifest_watcher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/support/temp_dir.h"

namespace su {
namespace {

using std::chrono::milliseconds;

// Collects callbacks from the watcher thread; tests poll it for up to 5 s.
class Recorder {
 public:
  ManifestWatcherCallbacks Callbacks() {
    return {[this](const std::string& p) {
              std::lock_guard<std::mutex> l(mu_);
              changes_.push_back(p);
            },
            [this](const std::vector<std::string>& files) {
              std::lock_guard<std::mutex> l(mu_);
              resyncs_.push_back(files);
            }};
  }
  int Count(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<int>(std::count(changes_.begin(), changes_.end(), path));
  }
  size_t NumResyncs() {
    std::lock_guard<std::mutex> l(mu_);
    return resyncs_.size();
  }
  std::vector<std::string> LastResync() {
    std::lock_guard<std::mutex> l(mu_);
    return resyncs_.empty() ? std::vector<std::string>{} : resyncs_.back();
  }
  // Waits until path has been reported more than `before` times.
  bool SeesNew(const std::string& path, int before) {
    for (int i = 0; i < 5000; ++i) {
      if (Count(path) > before) return true;
      std::this_thread::sleep_for(milliseconds(1));
    }
    return false;
  }
  bool SeesResyncs(size_t n) {
    for (int i = 0; i < 5000; ++i) {
      if (NumResyncs() >= n) return true;
      std::this_thread::sleep_for(milliseconds(1));
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> changes_;
  std::vector<std::vector<std::string>> resyncs_;
};

std::unique_ptr<ManifestWatcher> StartWatcher(const std::string& dir, Recorder& rec,
                                              milliseconds resync = milliseconds(0)) {
  ManifestWatcherOptions o;
  o.dir = dir;
  o.resync_period = resync;
  o.debounce = milliseconds(10);
  auto w = NewInotifyManifestWatcher(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE((*w)->Start(rec.Callbacks()).ok());
  return std::move(*w);
}

TEST(ManifestWatcherTest, ReportsCreateModifyRenameAndDelete) {
  testing::TempDir dir;
  Recorder rec;
  auto w = StartWatcher(dir.path(), rec);
  ASSERT_TRUE(rec.SeesResyncs(1)) << "the start-up listing";
  const std::string a = dir.Path("a.yaml");

  dir.Write("a.yaml", "spec: 1\n");
  ASSERT_TRUE(rec.SeesNew(a, 0)) << "create";

  int n = rec.Count(a);
  std::ofstream(a, std::ios::app) << "more: 2\n";
  ASSERT_TRUE(rec.SeesNew(a, n)) << "modify";

  // An editor's atomic save: write a hidden temp file, rename it over the manifest.
  n = rec.Count(a);
  dir.Write(".a.yaml.swp", "spec: 3\n");
  ASSERT_EQ(std::rename(dir.Path(".a.yaml.swp").c_str(), a.c_str()), 0);
  ASSERT_TRUE(rec.SeesNew(a, n)) << "rename over";

  // Renaming to another manifest name reports both: one is gone, one appeared.
  n = rec.Count(a);
  const std::string b = dir.Path("b.yml");
  ASSERT_EQ(std::rename(a.c_str(), b.c_str()), 0);
  ASSERT_TRUE(rec.SeesNew(a, n)) << "renamed away";
  ASSERT_TRUE(rec.SeesNew(b, 0)) << "renamed in";

  n = rec.Count(b);
  ASSERT_EQ(::unlink(b.c_str()), 0);
  ASSERT_TRUE(rec.SeesNew(b, n)) << "delete";
  w->Stop();
}

TEST(ManifestWatcherTest, IgnoresNonManifestNames) {
  testing::TempDir dir;
  Recorder rec;
  auto w = StartWatcher(dir.path(), rec);
  dir.Write("notes.txt", "x");
  dir.Write(".hidden.yaml", "x");
  dir.Write("a.yaml~", "x");
  dir.Write("z.yaml", "x");  // a marker: events arrive in order, so the others were seen first
  ASSERT_TRUE(rec.SeesNew(dir.Path("z.yaml"), 0));
  w->Stop();
  EXPECT_EQ(rec.Count(dir.Path("notes.txt")), 0);
  EXPECT_EQ(rec.Count(dir.Path(".hidden.yaml")), 0);
  EXPECT_EQ(rec.Count(dir.Path("a.yaml~")), 0);
}

TEST(ManifestWatcherTest, BurstOfWritesIsReportedOnceItSettles) {
  testing::TempDir dir;
  Recorder rec;
  ManifestWatcherOptions o;
  o.dir = dir.path();
  o.resync_period = milliseconds(0);
  o.resync_on_start = false;
  o.debounce = milliseconds(1000);  // generous: the events below come microseconds apart
  auto w = NewInotifyManifestWatcher(o);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Start(rec.Callbacks()).ok());
  const std::string a = dir.Path("a.yaml");
  {
    std::ofstream f(a);
    for (int i = 0; i < 5; ++i) {
      f << "line: " << i << "\n";
      f.flush();
    }
  }
  std::ofstream(a, std::ios::app) << "end: true\n";
  ASSERT_TRUE(rec.SeesNew(a, 0));
  (*w)->Stop();
  // Create, close-write and a second close-write arrive well inside 1 s of each other.
  EXPECT_EQ(rec.Count(a), 1);
  EXPECT_EQ(rec.NumResyncs(), 0u);
}

TEST(ManifestWatcherTest, PeriodicResyncListsManifestsSorted) {
  testing::TempDir dir;
  dir.Write("b.yaml", "x");
  dir.Write("a.yml", "x");
  dir.Write("c.txt", "x");
  ::mkdir(dir.Path("sub.yaml").c_str(), 0755);  // a folder named like a manifest is not one
  Recorder rec;
  auto w = StartWatcher(dir.path(), rec, milliseconds(20));
  ASSERT_TRUE(rec.SeesResyncs(3)) << "start-up listing plus periodic ones";
  w->Stop();
  EXPECT_EQ(rec.LastResync(), (std::vector<std::string>{"a.yml", "b.yaml"}));  // names, not paths
}

TEST(ManifestWatcherTest, ListingSkipsADanglingLinkAndStillSucceeds) {
  // A ConfigMap's manifest link left dangling after a ..data swap: its failed stat once left errno
  // set, and the loop's end read it as a readdir error, failing every listing of the folder.
  testing::TempDir dir;
  dir.Write("a.yaml", "x");
  ASSERT_EQ(::symlink("..data/gone.yaml", dir.Path("gone.yaml").c_str()), 0);
  auto listed = ListManifestFiles(dir.path());
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(*listed, (std::vector<std::string>{"a.yaml"}));
}

TEST(ManifestWatcherTest, ConfigMapDataSwapTriggersAResync) {
  // Kubernetes mounts a ConfigMap as m.yaml -> ..data/m.yaml, ..data -> ..<timestamp>/, and updates it
  // by renaming a new ..data_tmp symlink over ..data: no event ever names m.yaml.
  testing::TempDir dir;
  dir.Write("..v1/m.yaml", "v: 1\n");
  ASSERT_EQ(::symlink("..v1", dir.Path("..data").c_str()), 0);
  ASSERT_EQ(::symlink("..data/m.yaml", dir.Path("m.yaml").c_str()), 0);
  Recorder rec;
  auto w = StartWatcher(dir.path(), rec);
  ASSERT_TRUE(rec.SeesResyncs(1));
  EXPECT_EQ(rec.LastResync(), std::vector<std::string>{"m.yaml"});
  dir.Write("..v2/m.yaml", "v: 2\n");
  ASSERT_EQ(::symlink("..v2", dir.Path("..data_tmp").c_str()), 0);
  ASSERT_EQ(std::rename(dir.Path("..data_tmp").c_str(), dir.Path("..data").c_str()), 0);
  ASSERT_TRUE(rec.SeesResyncs(2));
  w->Stop();
  EXPECT_EQ(rec.LastResync(), std::vector<std::string>{"m.yaml"});
}

TEST(ManifestWatcherTest, FolderDeletedAndRecreatedIsWatchedAgain) {
  testing::TempDir parent;
  const std::string dir = parent.Path("manifests");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  Recorder rec;
  auto w = StartWatcher(dir, rec);
  ASSERT_TRUE(rec.SeesResyncs(1));
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  parent.Write("manifests/a.yaml", "x");
  // Either the restored watch sees the file, or the resync on restoring lists it.
  bool seen = false;
  for (int i = 0; i < 5000 && !seen; ++i) {
    auto last = rec.LastResync();
    seen = rec.Count(dir + "/a.yaml") > 0 || (rec.NumResyncs() >= 2 && !last.empty());
    if (!seen) std::this_thread::sleep_for(milliseconds(1));
  }
  w->Stop();
  EXPECT_TRUE(seen);
}

TEST(ManifestWatcherTest, MissingFolderIsNotFound) {
  ManifestWatcherOptions o;
  o.dir = "/nonexistent/manifests";
  auto w = NewInotifyManifestWatcher(o);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kNotFound);
}

TEST(ManifestWatcherTest, StopIsIdempotentAndStartAfterStopFails) {
  testing::TempDir dir;
  Recorder rec;
  auto w = StartWatcher(dir.path(), rec);
  w->Stop();
  w->Stop();
  EXPECT_FALSE(w->Start(rec.Callbacks()).ok());
}

TEST(ManifestFileNameTest, AcceptsYamlAndYmlOnly) {
  EXPECT_TRUE(IsManifestFileName("kratos.yaml"));
  EXPECT_TRUE(IsManifestFileName("hydra.yml"));
  EXPECT_FALSE(IsManifestFileName(".yaml"));
  EXPECT_FALSE(IsManifestFileName(".kratos.yaml.swp"));
  EXPECT_FALSE(IsManifestFileName("kratos.yaml~"));
  EXPECT_FALSE(IsManifestFileName("kratos.yaml.bak"));
  EXPECT_FALSE(IsManifestFileName("4913"));
  EXPECT_FALSE(IsManifestFileName("..data"));
}

}  // namespace
}  // namespace su
