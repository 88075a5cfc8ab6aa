// Private backup files and retention (see backup_files.h).
#include "reconcilers/database/backup_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace su {

Status MakeFilePrivate(const std::string& path) {
  if (::chmod(path.c_str(), 0600) != 0) {
    return Status::Io(path + ": cannot make the backup file private: " + std::strerror(errno));
  }
  return Status::Ok();
}

std::string BackupPrefix(const std::string& namespace_, const std::string& name) {
  return namespace_ + "_" + name + "_";
}

Result<std::vector<std::string>> PruneBackups(FileSystem* fs, const std::string& dir, const std::string& prefix,
                                              int keep, const std::string& protect) {
  std::vector<std::string> removed;
  if (keep <= 0) return removed;
  SU_ASSIGN_OR_RETURN(auto names, fs->ListDir(dir));
  const std::string ext = ".dump";
  // (stamp, name) of this resource's finished backups: "<prefix><hash>_<stamp>.dump" with exactly
  // one '_' after the prefix (a longer resource name sharing the prefix has more).
  std::vector<std::pair<std::string, std::string>> ours;
  for (const auto& n : names) {
    if (n.size() <= prefix.size() + ext.size() || n.rfind(prefix, 0) != 0) continue;
    if (n.compare(n.size() - ext.size(), ext.size(), ext) != 0) continue;
    std::string rest = n.substr(prefix.size(), n.size() - prefix.size() - ext.size());
    if (std::count(rest.begin(), rest.end(), '_') != 1) continue;
    ours.emplace_back(rest.substr(rest.find('_') + 1), n);
  }
  std::sort(ours.begin(), ours.end(), [](const auto& a, const auto& b) { return a > b; });  // newest first
  for (size_t i = static_cast<size_t>(keep); i < ours.size(); ++i) {
    std::string path = JoinPath(dir, ours[i].second);
    if (path == protect) continue;
    SU_RETURN_IF_ERROR(fs->Remove(path));
    removed.push_back(path);
  }
  return removed;
}

}  // namespace su
