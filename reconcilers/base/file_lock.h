// FileLock: "only one editor of this file at a time", for the threads of this process and for
// other processes (another controller, `schema-upgrade apply`) editing the same file.
//
// What is locked is the *folder* holding the file: an in-process mutex per folder (threads) and
// flock(2) on the folder itself (processes). Not the file: edits replace it by rename, so a lock
// on the file's inode would be lost on every write (the next editor opens the new inode and locks
// that one while a waiter still holds the old). Not a sidecar `.lock` file: it would appear in the
// user's (often git-tracked) folder for ever. The price of the folder: edits of two files in one
// folder also serialise, which costs nothing for compose files.
//
// Only cooperating editors are excluded; a person or a GitOps agent writing the file does not take
// this lock, so callers still check, under the lock, that the file did not change since they read
// it (see the compose runtime). Releasing: the destructor (RAII); flock is also dropped by the
// kernel when the process dies, so a kill -9 never leaves the folder locked.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "reconcilers/base/result.h"

namespace su {

class FileLock {
 public:
  // Waits up to `wait` for the lock on the folder of `path` (the path itself need not exist; its
  // folder must). kTimeout when another holder keeps it longer (retryable: says who to look for),
  // kIo when the folder cannot be opened or locked.
  static Result<FileLock> Acquire(const std::string& path, std::chrono::milliseconds wait);

  FileLock(FileLock&&) noexcept;
  FileLock& operator=(FileLock&&) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  // The folder that is locked (canonical), for log lines.
  const std::string& folder() const;

 private:
  struct Held;
  explicit FileLock(std::unique_ptr<Held> held);
  std::unique_ptr<Held> held_;
};

}  // namespace su
