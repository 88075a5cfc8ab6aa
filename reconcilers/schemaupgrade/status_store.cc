// Directory and in-memory status stores (see status_store.h).
#include "reconcilers/schemaupgrade/status_store.h"

#include <memory>
#include <mutex>

namespace su {
namespace {

std::string FileNameFor(const std::string& key) {
  std::string f;
  for (char c : key) f += (c == '/') ? std::string("__") : std::string(1, c);
  return f + ".json";
}

class DirStore : public StatusStore {
 public:
  DirStore(FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  Result<std::optional<ResourceStatus>> Load(const std::string& key) override {
    std::string path = JoinPath(dir_, FileNameFor(key));
    if (!fs_->Exists(path)) return std::optional<ResourceStatus>();
    SU_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(path));
    ResourceStatus s;
    std::string err;
    if (!StatusFromJson(text, &s, &err)) {
      return Status::Invalid(path + ": " + err + " (delete the file to start this resource's status afresh)");
    }
    return std::optional<ResourceStatus>(std::move(s));
  }

  Status Save(const std::string& key, const ResourceStatus& status) override {
    std::lock_guard<std::mutex> l(mu_);
    SU_RETURN_IF_ERROR(fs_->MakeDirs(dir_));
    return fs_->WriteFileAtomic(JoinPath(dir_, FileNameFor(key)), StatusToJson(status) + "\n");
  }

  Result<std::map<std::string, ResourceStatus>> List() override {
    std::map<std::string, ResourceStatus> out;
    if (!fs_->IsDir(dir_)) return out;
    SU_ASSIGN_OR_RETURN(auto names, fs_->ListDir(dir_));
    for (const auto& n : names) {
      if (n.size() < 6 || n.substr(n.size() - 5) != ".json") continue;
      SU_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(JoinPath(dir_, n)));
      ResourceStatus s;
      std::string err;
      if (!StatusFromJson(text, &s, &err)) return Status::Invalid(JoinPath(dir_, n) + ": " + err);
      out[s.resource] = std::move(s);
    }
    return out;
  }

 private:
  FileSystem* fs_;
  std::string dir_;
  std::mutex mu_;
};

class MemoryStore : public StatusStore {
 public:
  Result<std::optional<ResourceStatus>> Load(const std::string& key) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = m_.find(key);
    if (it == m_.end()) return std::optional<ResourceStatus>();
    return std::optional<ResourceStatus>(it->second);
  }
  Status Save(const std::string& key, const ResourceStatus& status) override {
    std::lock_guard<std::mutex> l(mu_);
    m_[key] = status;
    return Status::Ok();
  }
  Result<std::map<std::string, ResourceStatus>> List() override {
    std::lock_guard<std::mutex> l(mu_);
    return m_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, ResourceStatus> m_;
};

}  // namespace

std::unique_ptr<StatusStore> NewDirStatusStore(FileSystem* fs, std::string dir) {
  return std::make_unique<DirStore>(fs, std::move(dir));
}

std::unique_ptr<StatusStore> NewMemoryStatusStore() { return std::make_unique<MemoryStore>(); }

}  // namespace su
