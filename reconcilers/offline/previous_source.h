// PreviousSource: the files of the previous version of the manifests, for an offline plan
// (`schema-upgrade plan --from REF|DIR`). A git ref is read with `git cat-file` / `git archive`
// (argv arrays, no shell) into a scratch folder, only the paths asked for; a folder is taken as a
// checkout of the previous version of the current working directory (same layout).
#pragma once

#include <memory>
#include <string>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "reconcilers/base/result.h"

namespace su {

class PreviousSource {
 public:
  virtual ~PreviousSource() = default;
  // The previous version's copy of `current_path` (a file or folder of the current tree; relative
  // paths are taken from the working directory), materialised on disk. kNotFound when it did not
  // exist then; kInvalidArgument when the path is outside the tree (the repository, or the
  // working directory for a folder).
  virtual Result<std::string> Get(const std::string& current_path) = 0;
  // Like Get for a path that a previous manifest names: a path inside the previous tree (as
  // returned by Get, or resolved against one) is mapped back to the tree and materialised.
  virtual Result<std::string> GetPrevious(const std::string& previous_path) = 0;
  // "origin/main" or "folder /path": for messages and the comment.
  virtual std::string label() const = 0;
};

// `from` names an existing folder: a folder source. Otherwise a git ref, resolved in the
// repository holding the working directory (kInvalidArgument naming the ref when git does not know
// it, or when the working directory is not in a git repository). scratch_dir is created and
// owned by the caller (extracted files go there).
Result<std::unique_ptr<PreviousSource>> OpenPreviousSource(const std::string& from, FileSystem* fs,
                                                           ProcessRunner* runner, const std::string& scratch_dir);

// An absolute, normalised path ("." and ".." resolved lexically, symlinks of existing parts
// resolved), for comparing paths of the two trees.
std::string AbsolutePath(const std::string& path);

}  // namespace su
