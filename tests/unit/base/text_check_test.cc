// CheckMigrationText / ValidUtf8 (text_check.h) and the strict LocalFileSystem::ReadFile (fs.h).
#include "reconcilers/base/text_check.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "reconcilers/base/fs.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CheckMigrationTextTest, NulByteNamesFileOffsetAndLine) {
  std::string text = std::string("CREATE TABLE a (x int);\n") + '\0' + "CREATE TABLE b (x int);\n";
  Status s = CheckMigrationText("m/1_a.up.sql", text);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Has(s.message(), "m/1_a.up.sql: byte offset 24 (line 2): NUL byte")) << s.message();
}

TEST(CheckMigrationTextTest, InvalidUtf8NamesFileOffsetAndByte) {
  Status s = CheckMigrationText("f.sql", "SELECT 1;\nSELECT '\xff';\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Has(s.message(), "f.sql: byte offset 18 (line 2): invalid UTF-8 (byte 0xff)")) << s.message();
  // Overlong, surrogate, above U+10FFFF and truncated sequences are all ill-formed.
  for (const std::string bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"}) {
    EXPECT_FALSE(CheckMigrationText("f", "x" + bad).ok()) << bad.size();
    EXPECT_EQ(FirstInvalidUtf8("x" + bad), 1u);
  }
  EXPECT_TRUE(CheckMigrationText("f", "INSERT INTO t VALUES ('Grüße 🎉 €');\n").ok());
  EXPECT_TRUE(CheckMigrationText("f", "").ok());
}

TEST(ValidUtf8Test, ReplacesOnlyIllFormedBytes) {
  EXPECT_EQ(ValidUtf8("é ok"), "é ok");
  EXPECT_EQ(ValidUtf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(FirstInvalidUtf8(ValidUtf8("\xc3\x28\xe2\x82")), std::string::npos);
}

class StrictReadTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  FileSystem* fs_ = LocalFileSystem();
  Status ReadStatus(const std::string& path) {
    auto r = fs_->ReadFile(path);
    return r.ok() ? Status::Ok() : r.status();
  }
};

TEST_F(StrictReadTest, ReadsARegularFileAndASymlinkToOne) {
  std::string f = dir_.Write("a.sql", "SELECT 1;");
  ASSERT_EQ(::symlink(f.c_str(), dir_.Path("link.sql").c_str()), 0);
  EXPECT_EQ(*fs_->ReadFile(f), "SELECT 1;");
  EXPECT_EQ(*fs_->ReadFile(dir_.Path("link.sql")), "SELECT 1;");
  EXPECT_EQ(ReadStatus(dir_.Path("missing.sql")).code(), Code::kNotFound);
}

TEST_F(StrictReadTest, AFifoIsRefusedWithoutBlocking) {
  std::string p = dir_.Path("1_f.up.sql");
  ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0);
  Status s = ReadStatus(p);  // would block for ever before: no writer ever comes
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Has(s.message(), p + ": is a FIFO (named pipe), not a regular file")) << s.message();
}

TEST_F(StrictReadTest, ASymlinkToADeviceIsRefused) {
  std::string p = dir_.Path("1_z.up.sql");
  ASSERT_EQ(::symlink("/dev/zero", p.c_str()), 0);
  Status s = ReadStatus(p);  // was an endless read ending in std::bad_alloc
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Has(s.message(), p + ": is a character device")) << s.message();
}

TEST_F(StrictReadTest, ADirectoryAndALoopingSymlinkAreBadInput) {
  dir_.Write("d.up.sql/x", "");
  Status d = ReadStatus(dir_.Path("d.up.sql"));
  EXPECT_EQ(d.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Has(d.message(), "is a directory")) << d.message();
  std::string loop = dir_.Path("self.sql");
  ASSERT_EQ(::symlink(loop.c_str(), loop.c_str()), 0);
  Status l = ReadStatus(loop);
  EXPECT_EQ(l.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Has(l.message(), loop + ": cannot read: a symbolic link that points to itself")) << l.message();
}

TEST_F(StrictReadTest, AFileOverTheLimitIsRefusedNamingTheLimit) {
  std::string p = dir_.Write("big.sql", "");
  ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(kMaxReadFileBytes) + 1), 0);  // sparse: cheap
  Status s = ReadStatus(p);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Has(s.message(), "may be at most 64 MB")) << s.message();
}

}  // namespace
}  // namespace su
