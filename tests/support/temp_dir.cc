// TempDir (see temp_dir.h).
#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace su::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/su-test-XXXXXX";
  if (!mkdtemp(tmpl)) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!getenv("SU_KEEP_TMP")) std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& rel, const std::string& content) const {
  std::string full = path_ + "/" + rel;
  std::filesystem::create_directories(std::filesystem::path(full).parent_path());
  std::ofstream(full, std::ios::binary) << content;
  return full;
}

}  // namespace su::testing
