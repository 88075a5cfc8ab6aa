// Strict, typed reading of YAML mappings for the manifest parser (internal to this module: the
// only header outside yaml-cpp itself that names YAML types). Every problem becomes one line
// "file:line: field.path: what is wrong; expected ..." in an Errors list; nothing throws here
// except yaml-cpp itself, which the caller catches at the module edge.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su::manifest_internal {

// 1-based line of a node, 0 when yaml-cpp does not know it (e.g. an absent node).
int LineOf(const YAML::Node& node);

class Errors {
 public:
  // with_lines false: errors read "file: path: what" (an object read from an API, whose JSON text has
  // no lines a person could look up).
  explicit Errors(std::string file, bool with_lines = true) : file_(std::move(file)), with_lines_(with_lines) {}
  // path may be empty for errors about a whole document.
  void Add(int line, const std::string& path, const std::string& what);
  size_t size() const { return lines_.size(); }
  bool empty() const { return lines_.empty(); }
  const std::string& file() const { return file_; }
  // kInvalidArgument with one error per line (the first ones, if there are very many).
  Status ToStatus() const;

 private:
  std::string file_;
  bool with_lines_ = true;
  std::vector<std::string> lines_;
};

// One mapping of the document. The constructor checks its keys once (unknown fields with a
// "did you mean", duplicate keys, non-string keys); the getters then read typed values. A null
// value (`key:` or `key: ~`) counts as absent, as in Kubernetes. Getters return true only when
// the field is present and valid; on a wrong type they report it and leave *out untouched.
class MapReader {
 public:
  // node absent or null: an empty section (every field absent). line: where the mapping's key is,
  // used for "required" errors about its missing fields.
  MapReader(Errors* errs, const YAML::Node& node, std::string path, int line,
            std::vector<std::string> known, std::vector<std::string> ignored = {});

  bool present() const { return present_; }  // a mapping was given
  int line() const { return line_; }
  std::string Path(const std::string& key) const;
  bool Has(const std::string& key) const { return fields_.count(key) > 0; }
  int KeyLine(const std::string& key) const;  // line of the key (even if null), else line()

  bool String(const std::string& key, std::string* out);
  bool Bool(const std::string& key, bool* out);
  bool Int(const std::string& key, long long* out);
  bool Duration(const std::string& key, std::chrono::milliseconds* out);
  // A YAML sequence of scalars (argv, versions, days). An empty list is reported as an error.
  bool StringList(const std::string& key, std::vector<std::string>* out);
  // A mapping of string to string (labels, annotations).
  bool StringMap(const std::string& key, std::map<std::string, std::string>* out);
  // A YAML sequence of mappings (e.g. dependsOn: [{name: kratos}]), one reader per item with the
  // path "key[i]". Not a sequence, or an item that is not a mapping: reported, and left out.
  std::vector<MapReader> MapList(const std::string& key, const std::vector<std::string>& known);
  // A nested mapping; absent or of the wrong type gives an empty (not present) reader.
  MapReader Map(const std::string& key, std::vector<std::string> known,
                std::vector<std::string> ignored = {});

  // Reports the field as missing at line().
  void Required(const std::string& key, const std::string& expected);
  // Reports a problem with a present field at its line.
  void Error(const std::string& key, const std::string& what);

 private:
  struct Entry {
    YAML::Node value;
    int line = 0;
  };
  const Entry* Find(const std::string& key) const;
  void TypeError(const std::string& key, const std::string& expected, const YAML::Node& got);

  Errors* errs_;
  std::string path_;
  int line_;
  bool present_ = false;
  std::map<std::string, Entry> fields_;
  std::map<std::string, int> null_lines_;  // fields given as null: absent, but errors point here
};

// What a node is, in words, for "got ..." messages ("a list", "a mapping", "a quoted string").
std::string DescribeNode(const YAML::Node& node);

}  // namespace su::manifest_internal
