// Migration folders as values (see migration_folder.h).
#include "reconcilers/runtimes/migration_folder.h"

#include <cstdio>
#include <list>
#include <mutex>

#include "reconcilers/base/sha256.h"

namespace su {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A JSON string literal. Paths and origins are file names and image references; control
// characters are escaped, other bytes kept.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

bool IsMigrationFileFor(const std::string& engine, const std::string& rel) {
  if (engine == "drizzle" && rel == "meta/_journal.json") return true;
  return rel.find('/') == std::string::npos && EndsWith(rel, ".sql");
}

Result<MigrationFolder> ReadLocalMigrationFolder(FileSystem* fs, const std::string& dir, const std::string& engine,
                                                 size_t max_bytes) {
  if (!fs->IsDir(dir)) return Status::Invalid("migrations folder " + dir + " is not a folder");
  MigrationFolder f;
  f.origin = dir;
  SU_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  std::vector<std::string> rels;
  for (const auto& n : names) {
    if (IsMigrationFileFor(engine, n) && !fs->IsDir(JoinPath(dir, n))) rels.push_back(n);
  }
  if (engine == "drizzle" && fs->Exists(JoinPath(dir, "meta/_journal.json"))) rels.push_back("meta/_journal.json");
  for (const auto& rel : rels) {
    SU_ASSIGN_OR_RETURN(std::string content, fs->ReadFile(JoinPath(dir, rel)));
    f.bytes += content.size();
    if (max_bytes > 0 && f.bytes > max_bytes) {
      return Status::Invalid("migrations folder " + dir + ": the " + engine + " files are more than " + Mib(max_bytes) +
                             " (at " + rel + "), more than one read of a Job's log carries safely; mount the folder "
                             "into the controller (source: controller) instead");
    }
    f.files.emplace(rel, std::move(content));
  }
  return f;
}

std::string EncodeMigrationFolder(const MigrationFolder& folder) {
  std::string json = "{\"origin\":" + JsonString(folder.origin) + ",\"files\":[";
  bool first = true;
  for (const auto& [rel, content] : folder.files) {
    if (!first) json += ',';
    first = false;
    json += "{\"path\":" + JsonString(rel) + ",\"base64\":\"" + Base64(content) + "\"}";
  }
  json += "]}";
  return "schema-upgrade-folder v1 " + std::to_string(json.size()) + " " + Sha256Hex(json) + "\n" + json +
         "\nschema-upgrade-folder end\n";
}

namespace {

class CachingFolderReader : public MigrationFolderReader {
 public:
  CachingFolderReader(std::unique_ptr<MigrationFolderReader> inner, size_t capacity)
      : inner_(std::move(inner)), capacity_(capacity == 0 ? 1 : capacity) {}

  Result<std::shared_ptr<const MigrationFolder>> FromImage(const SchemaUpgrade& su, const std::string& image) override {
    const std::string key = su.migrations.engine + "\n" + image + "\n" + su.migrations.path;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = lru_.begin(); it != lru_.end(); ++it) {
        if (it->first == key) {
          lru_.splice(lru_.begin(), lru_, it);
          return it->second;
        }
      }
    }
    SU_ASSIGN_OR_RETURN(auto folder, inner_->FromImage(su, image));
    std::lock_guard<std::mutex> l(mu_);
    lru_.emplace_front(key, folder);
    while (lru_.size() > capacity_) lru_.pop_back();
    return folder;
  }

  Result<std::shared_ptr<const MigrationFolder>> FromConfigMap(const SchemaUpgrade& su) override {
    return inner_->FromConfigMap(su);
  }

 private:
  std::unique_ptr<MigrationFolderReader> inner_;
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const MigrationFolder>>> lru_;  // GUARDED_BY(mu_), newest first
};

}  // namespace

std::unique_ptr<MigrationFolderReader> NewCachingFolderReader(std::unique_ptr<MigrationFolderReader> inner,
                                                              size_t capacity) {
  return std::make_unique<CachingFolderReader>(std::move(inner), capacity);
}

}  // namespace su
