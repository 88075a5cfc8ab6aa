// File helpers for the artifact tests.
#include "tests/unit/artifacts/artifact_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace su::testing {

std::string SourceDir() {
  if (const char* dir = std::getenv("SU_SOURCE_DIR"); dir && *dir) return dir;
  return SU_ARTIFACTS_SOURCE_DIR;
}

std::string ReadFileText(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (ok) *ok = false;
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ok) *ok = true;
  return ss.str();
}

std::vector<std::string> YamlFilesUnder(const std::string& rel) {
  std::vector<std::string> out;
  const std::filesystem::path root = std::filesystem::path(SourceDir()) / rel;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const auto ext = it->path().extension().string();
    if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<YAML::Node> LoadDocuments(const std::string& path, std::string* error) {
  std::vector<YAML::Node> docs;
  bool ok = false;
  const std::string text = ReadFileText(path, &ok);
  if (!ok) {
    *error = path + ": cannot read";
    return docs;
  }
  try {
    for (const YAML::Node& d : YAML::LoadAll(text)) {
      if (d && !d.IsNull()) docs.push_back(d);
    }
  } catch (const YAML::Exception& e) {
    *error = path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
    docs.clear();
  }
  return docs;
}

YAML::Node FindDocument(const std::string& path, const std::string& kind, const std::string& name) {
  std::string error;
  for (const YAML::Node& d : LoadDocuments(path, &error)) {
    if (d["kind"] && d["kind"].as<std::string>() == kind &&
        (name.empty() || (d["metadata"]["name"] && d["metadata"]["name"].as<std::string>() == name)))
      return d;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace su::testing
