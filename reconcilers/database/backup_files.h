// Backup files on disk: private by construction (a dump is the whole database) and pruned to the
// policy's retention. The folder is created 0700 by FileSystem::MakePrivateDirs; the files here.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/result.h"

namespace su {

// chmod 0600 (a finished backup renamed into place keeps the mode, this makes sure).
Status MakeFilePrivate(const std::string& path);

// The file name prefix of a resource's backups: "<namespace>_<name>_"; files are
// "<prefix><plan hash>_<UTC stamp>.dump".
std::string BackupPrefix(const std::string& namespace_, const std::string& name);

// Removes the resource's backups in dir beyond the newest `keep` (by the stamp in the name),
// never `protect` (the backup the current upgrade may restore). Returns the removed paths; files
// of other resources (another prefix, or a name with more fields) and .partial files are left.
Result<std::vector<std::string>> PruneBackups(FileSystem* fs, const std::string& dir, const std::string& prefix,
                                              int keep, const std::string& protect);

}  // namespace su
