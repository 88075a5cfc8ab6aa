// FolderSource on a real temp folder (inotify): a file's resources follow its edits (a key it no
// longer defines is removed, a new one appears), a key another file already defines is refused in
// the second file without touching the first's, and deleting a file removes its resources. The
// source keeps a file's keys as pointers into its resource map (issue 10's memory): these cases
// are the ones that change both maps. It keeps files by their name inside the folder and finds a
// file gone without an event of its own by marking what each periodic listing reached (the
// ConfigMap case below).
#include "controller/runtime/folder_source.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/temp_dir.h"

namespace su {
namespace {

std::string Doc(const std::string& name, const std::string& version) {
  return "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: " + name +
         "\n  namespace: ns\nspec:\n  service: " + name + "\n  targetVersion: \"" + version +
         "\"\n  database:\n    dsnFrom:\n      env: X_DSN\n  migrations:\n    engine: sql\n    path: /m\n";
}

class Events {
 public:
  ResourceHandler Handler() {
    ResourceHandler h;
    h.changed = [this](const std::string& k) { Note(&changed_, k); };
    h.resynced = [this](const std::string& k) { Note(&changed_, k); };
    h.removed = [this](const std::string& k) { Note(&removed_, k); };
    return h;
  }
  bool Removed(const std::string& k) { return Has(&removed_, k); }
  bool Changed(const std::string& k) { return Has(&changed_, k); }

 private:
  void Note(std::set<std::string>* s, const std::string& k) {
    std::lock_guard<std::mutex> l(mu_);
    s->insert(k);
  }
  bool Has(std::set<std::string>* s, const std::string& k) {
    std::lock_guard<std::mutex> l(mu_);
    return s->count(k) > 0;
  }
  std::mutex mu_;
  std::set<std::string> changed_, removed_;
};

// Polls cond for up to 30 s (a loaded machine delays inotify delivery, never loses it).
template <typename F>
bool Eventually(F cond) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

// No periodic listing (the tests' listings come from the start and from ..data swaps), events at once.
ManifestWatcherOptions Options(const testing::TempDir& dir) {
  ManifestWatcherOptions opt;
  opt.dir = dir.path();
  opt.resync_period = std::chrono::milliseconds(0);
  opt.debounce = std::chrono::milliseconds(1);
  return opt;
}

std::string TargetOf(FolderSource& src, const std::string& key) {
  auto r = src.Get(key);
  if (!r || !r->resource.ok()) return "";
  return r->resource->target_version;
}

TEST(FolderSourceTest, KeysFollowEditsDuplicatesAreRefusedAndDeletesRemove) {
  testing::TempDir dir;
  dir.Write("a.yaml", Doc("x", "1"));
  dir.Write("b.yaml", Doc("y", "1") + "---\n" + Doc("z", "1"));
  FolderSource src(Options(dir));
  Events ev;
  ASSERT_TRUE(src.Start(ev.Handler()).ok());
  ASSERT_TRUE(Eventually([&] { return src.HasSynced(); }));
  EXPECT_EQ(TargetOf(src, "ns/x"), "1");
  EXPECT_EQ(TargetOf(src, "ns/y"), "1");
  EXPECT_EQ(TargetOf(src, "ns/z"), "1");

  // b.yaml now defines y (edited) and w, no longer z.
  dir.Write("b.yaml", Doc("y", "2") + "---\n" + Doc("w", "1"));
  ASSERT_TRUE(Eventually([&] { return ev.Removed("ns/z"); }));
  EXPECT_FALSE(src.Get("ns/z").has_value());
  EXPECT_EQ(TargetOf(src, "ns/y"), "2");
  EXPECT_EQ(TargetOf(src, "ns/w"), "1");

  // c.yaml claims x, which a.yaml defines: refused, a.yaml's x stays; c's other key is not taken either.
  dir.Write("c.yaml", Doc("x", "9") + "---\n" + Doc("v", "1"));
  dir.Write("d.yaml", Doc("u", "1"));  // a later file, to know c.yaml's event was handled
  ASSERT_TRUE(Eventually([&] { return src.Get("ns/u").has_value(); }));
  EXPECT_EQ(TargetOf(src, "ns/x"), "1");
  auto x = src.Get("ns/x");
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->resource->source_file, dir.Path("a.yaml"));

  // Deleting a.yaml removes x; once c.yaml is written again it defines x and v.
  ASSERT_EQ(::unlink(dir.Path("a.yaml").c_str()), 0);
  ASSERT_TRUE(Eventually([&] { return ev.Removed("ns/x"); }));
  dir.Write("c.yaml", Doc("x", "9") + "---\n" + Doc("v", "1"));
  ASSERT_TRUE(Eventually([&] { return TargetOf(src, "ns/x") == "9"; }));
  EXPECT_EQ(TargetOf(src, "ns/v"), "1");

  // Deleting b.yaml removes both of its keys; the others stay.
  ASSERT_EQ(::unlink(dir.Path("b.yaml").c_str()), 0);
  ASSERT_TRUE(Eventually([&] { return ev.Removed("ns/y") && ev.Removed("ns/w"); }));
  EXPECT_FALSE(src.Get("ns/y").has_value());
  EXPECT_FALSE(src.Get("ns/w").has_value());
  EXPECT_EQ(TargetOf(src, "ns/u"), "1");
  EXPECT_EQ(TargetOf(src, "ns/v"), "1");
  src.Stop();
}

// A Kubernetes ConfigMap volume: the *.yaml names are symlinks through ..data, which is swapped
// atomically. A manifest dropped from the ConfigMap leaves a dangling link and no event of its own
// name: only the listing the ..data swap triggers notices it, and its resources are removed.
TEST(FolderSourceTest, AListingRemovesAFileGoneWithoutItsOwnEvent) {
  testing::TempDir dir;
  dir.Write("..v1/a.yaml", Doc("a", "1"));
  dir.Write("..v1/b.yaml", Doc("b", "1"));
  ASSERT_EQ(::symlink("..v1", dir.Path("..data").c_str()), 0);
  ASSERT_EQ(::symlink("..data/a.yaml", dir.Path("a.yaml").c_str()), 0);
  ASSERT_EQ(::symlink("..data/b.yaml", dir.Path("b.yaml").c_str()), 0);
  FolderSource src(Options(dir));
  Events ev;
  ASSERT_TRUE(src.Start(ev.Handler()).ok());
  ASSERT_TRUE(Eventually([&] { return src.HasSynced(); }));
  EXPECT_EQ(TargetOf(src, "ns/a"), "1");
  EXPECT_EQ(TargetOf(src, "ns/b"), "1");
  auto a = src.Get("ns/a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->resource->source_file, dir.Path("a.yaml"));  // the full path, though kept as a name

  // The new version of the ConfigMap has no a.yaml and a new b.yaml: ..data moves to ..v2.
  dir.Write("..v2/b.yaml", Doc("b", "2"));
  ASSERT_EQ(::symlink("..v2", dir.Path("..data_tmp").c_str()), 0);
  ASSERT_EQ(::rename(dir.Path("..data_tmp").c_str(), dir.Path("..data").c_str()), 0);
  ASSERT_TRUE(Eventually([&] { return ev.Removed("ns/a"); }));
  EXPECT_FALSE(src.Get("ns/a").has_value());
  ASSERT_TRUE(Eventually([&] { return TargetOf(src, "ns/b") == "2"; }));
  EXPECT_FALSE(ev.Removed("ns/b"));
  src.Stop();
}

}  // namespace
}  // namespace su
