// MigrationFileCache: a file is read and hashed once per version of its bytes (FileStamp), texts
// live only while held, an edit is always seen, the slow full re-check happens, and the checksums
// survive a process through Save/LoadChecksums (a short-lived `apply` only stats unchanged files).
#include "reconcilers/base/file_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "reconcilers/base/sha256.h"
#include "tests/support/fakes/counting.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

using su::testing::CountingFileSystem;
using su::testing::TempDir;

// A run that hashed `file` and saved the checksums to `state`.
void SaveChecksumOf(const std::string& file, const std::string& state) {
  MigrationFileCache first;
  ASSERT_TRUE(first.Checksum(LocalFileSystem(), file).ok());
  ASSERT_TRUE(first.SaveChecksums(LocalFileSystem(), state).ok());
}

TEST(MigrationFileCacheTest, ReadsAndHashesOnceWhileHeldAndAgainAfterAnEdit) {
  TempDir dir;
  const std::string f = dir.Write("1_a.up.sql", "CREATE TABLE a (id int);\n");
  CountingFileSystem fs(LocalFileSystem());
  MigrationFileCache cache;
  auto t1 = cache.Text(&fs, f);
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  EXPECT_EQ((*t1)->checksum, Sha256Hex("CREATE TABLE a (id int);\n"));
  auto t2 = cache.Text(&fs, f);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t1->get(), t2->get()) << "the same text while it is held";
  auto sum = cache.Checksum(&fs, f);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, (*t1)->checksum);
  EXPECT_EQ(fs.reads(f), 1);

  // Released: the checksum is still known without a read; the text must be read again.
  t1->reset();
  t2->reset();
  ASSERT_TRUE(cache.Checksum(&fs, f).ok());
  EXPECT_EQ(fs.reads(f), 1);
  ASSERT_TRUE(cache.Text(&fs, f).ok());
  EXPECT_EQ(fs.reads(f), 2);

  // Same size, new bytes: the stamp (mtime/ctime) changes, so the edit is seen.
  dir.Write("1_a.up.sql", "CREATE TABLE b (id int);\n");
  auto edited = cache.Checksum(&fs, f);
  ASSERT_TRUE(edited.ok());
  EXPECT_EQ(*edited, Sha256Hex("CREATE TABLE b (id int);\n"));
  EXPECT_EQ(fs.reads(f), 3);
}

TEST(MigrationFileCacheTest, OldEntriesAreReadAgainAtTheSlowCadence) {
  TempDir dir;
  const std::string f = dir.Write("1_a.up.sql", "SELECT 1;\n");
  CountingFileSystem fs(LocalFileSystem());
  MigrationFileCache cache(std::chrono::seconds(0));  // every entry is already too old
  ASSERT_TRUE(cache.Checksum(&fs, f).ok());
  ASSERT_TRUE(cache.Checksum(&fs, f).ok());
  EXPECT_EQ(fs.reads(f), 2);
}

TEST(MigrationFileCacheTest, BadTextIsRefusedWithTheFileAndNotCached) {
  TempDir dir;
  const std::string f = dir.Write("1_a.up.sql", std::string("SELECT 1;\0\n", 11));
  MigrationFileCache cache;
  auto r = cache.Checksum(LocalFileSystem(), f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(f), std::string::npos) << r.status().message();
}

TEST(MigrationFileCacheTest, ChecksumsSurviveAProcessThroughTheStateFile) {
  TempDir dir;
  const std::string a = dir.Write("1_a.up.sql", "SELECT 1;\n");
  const std::string b = dir.Write("2 with space.up.sql", "SELECT 2;\n");
  const std::string state = dir.Path("file-checksums");
  CountingFileSystem fs(LocalFileSystem());
  {
    MigrationFileCache first;
    ASSERT_TRUE(first.Checksum(&fs, a).ok());
    ASSERT_TRUE(first.Checksum(&fs, b).ok());
    ASSERT_TRUE(first.SaveChecksums(&fs, state).ok());
  }
  const int reads = fs.reads(a) + fs.reads(b);
  MigrationFileCache next;  // a new process
  next.LoadChecksums(&fs, state);
  auto sa = next.Checksum(&fs, a);
  auto sb = next.Checksum(&fs, b);
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(*sa, Sha256Hex("SELECT 1;\n"));
  EXPECT_EQ(*sb, Sha256Hex("SELECT 2;\n"));
  EXPECT_EQ(fs.reads(a) + fs.reads(b), reads) << "unchanged files were read again";

  // An edit after the save is seen; a damaged state file is ignored, never trusted.
  dir.Write("1_a.up.sql", "SELECT 3;\n");
  EXPECT_EQ(*next.Checksum(&fs, a), Sha256Hex("SELECT 3;\n"));
  dir.Write("file-checksums", "v1 nonsense\nv1 " + std::string(64, 'a') + " 1 2 3\n");
  MigrationFileCache damaged;
  damaged.LoadChecksums(&fs, state);
  EXPECT_EQ(*damaged.Checksum(&fs, b), Sha256Hex("SELECT 2;\n"));
}

// A no-op apply learns nothing new: its Save leaves the state file alone (5000 lines rewritten on
// every run otherwise). Once a file was read and hashed again, Save writes.
TEST(MigrationFileCacheTest, SaveWritesOnlyWhenSomethingWasLearntSinceTheLoad) {
  TempDir dir;
  const std::string a = dir.Write("1_a.up.sql", "SELECT 1;\n");
  const std::string state = dir.Path("file-checksums");
  SaveChecksumOf(a, state);
  MigrationFileCache next;
  next.LoadChecksums(LocalFileSystem(), state);
  ASSERT_TRUE(next.Checksum(LocalFileSystem(), a).ok());  // unchanged: from the loaded entry
  dir.Write("file-checksums", "marker\n");                // what a write would replace
  ASSERT_TRUE(next.SaveChecksums(LocalFileSystem(), state).ok());
  EXPECT_EQ(*LocalFileSystem()->ReadFile(state), "marker\n") << "a no-op run rewrote the state file";

  dir.Write("1_a.up.sql", "SELECT 2;\n");
  EXPECT_EQ(*next.Checksum(LocalFileSystem(), a), Sha256Hex("SELECT 2;\n"));
  ASSERT_TRUE(next.SaveChecksums(LocalFileSystem(), state).ok());
  auto saved = LocalFileSystem()->ReadFile(state);
  ASSERT_TRUE(saved.ok());
  EXPECT_NE(saved->find(Sha256Hex("SELECT 2;\n")), std::string::npos) << *saved;
}

// A no-op apply whose observation came from the observation cache never reads the checksums
// file: LoadChecksumsOnFirstUse reads it on the first Checksum or Text call only, and a Save
// before any such call writes nothing.
TEST(MigrationFileCacheTest, ADeferredLoadReadsTheStateFileOnFirstUseOnly) {
  TempDir dir;
  const std::string a = dir.Write("1_a.up.sql", "SELECT 1;\n");
  const std::string state = dir.Path("file-checksums");
  SaveChecksumOf(a, state);
  CountingFileSystem fs(LocalFileSystem());
  {
    MigrationFileCache unused;
    unused.LoadChecksumsOnFirstUse(&fs, state);
    dir.Write("file-checksums", "marker\n");
    ASSERT_TRUE(unused.SaveChecksums(&fs, state).ok());
    EXPECT_EQ(fs.reads(state), 0) << "read although nothing needed a checksum";
    EXPECT_EQ(*LocalFileSystem()->ReadFile(state), "marker\n") << "written although nothing was learnt";
  }
  SaveChecksumOf(a, state);
  MigrationFileCache used;
  used.LoadChecksumsOnFirstUse(&fs, state);
  ASSERT_TRUE(used.Checksum(&fs, a).ok());
  EXPECT_EQ(fs.reads(state), 1);
  EXPECT_EQ(fs.reads(a), 0) << "the deferred entries were not used";
  ASSERT_TRUE(used.Checksum(&fs, a).ok());
  EXPECT_EQ(fs.reads(state), 1) << "loaded once";
}

// StatDirEntries: every entry (not only migration files), sorted, with the stamp that changes on
// an edit; a dangling link is left out; the real file system and the default (ListDir + Stat)
// agree.
TEST(FileSystemTest, StatDirEntriesStampsEveryEntrySortedAndSeesAnEdit) {
  TempDir dir;
  dir.Write("f/2_b.up.sql", "SELECT 2;\n");
  dir.Write("f/1_a.up.sql", "SELECT 1;\n");
  dir.Write("f/README", "notes\n");
  ASSERT_EQ(::symlink("missing", dir.Path("f/9_gone.up.sql").c_str()), 0);
  auto listed = LocalFileSystem()->StatDirEntries(dir.Path("f"));
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].name, "1_a.up.sql");
  EXPECT_EQ((*listed)[1].name, "2_b.up.sql");
  EXPECT_EQ((*listed)[2].name, "README");
  EXPECT_EQ((*listed)[0].stamp, *LocalFileSystem()->Stat(dir.Path("f/1_a.up.sql")));

  CountingFileSystem wrapped(LocalFileSystem());  // no override: the default implementation
  auto by_default = wrapped.StatDirEntries(dir.Path("f"));
  ASSERT_TRUE(by_default.ok()) << by_default.status().ToString();
  ASSERT_EQ(by_default->size(), listed->size());
  for (size_t i = 0; i < listed->size(); ++i) {
    EXPECT_EQ((*by_default)[i].name, (*listed)[i].name);
    EXPECT_EQ((*by_default)[i].stamp, (*listed)[i].stamp);
  }

  dir.Write("f/1_a.up.sql", "SELECT 33;\n");  // a new size: seen whatever the clock granularity
  auto after = LocalFileSystem()->StatDirEntries(dir.Path("f"));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE((*after)[0].stamp == (*listed)[0].stamp);
  EXPECT_EQ(LocalFileSystem()->StatDirEntries(dir.Path("nope")).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace su
