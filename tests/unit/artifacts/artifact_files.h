// Finding and loading the repository's static artifacts (crds/, manifests/, charts/) for tests.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace su::testing {

// $SU_SOURCE_DIR (set by ctest), else the source dir the test was built from.
std::string SourceDir();

// Whole file, or "" when it cannot be read (*ok = false).
std::string ReadFileText(const std::string& path, bool* ok);

// Every *.yaml / *.yml file under SourceDir()/rel, recursively, sorted, as absolute paths.
std::vector<std::string> YamlFilesUnder(const std::string& rel);

// Every non-empty document of a file. A parse error is returned in *error with file and line
// (yaml-cpp's exception stops here).
std::vector<YAML::Node> LoadDocuments(const std::string& path, std::string* error);

// The first document of kind `kind` (and name, when given) in a file; undefined when absent.
YAML::Node FindDocument(const std::string& path, const std::string& kind, const std::string& name = "");

}  // namespace su::testing
