// FakeBackupTool: a BackupTool that "dumps" by writing a small file into a FileSystem (usually a
// FakeFileSystem) and records every Backup and Restore call with its path. Results are scripted.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/schemaupgrade/reconciler.h"

namespace su::testing {

class FakeBackupTool : public BackupTool {
 public:
  explicit FakeBackupTool(FileSystem* fs) : fs_(fs) {}
  std::deque<Status> backup_errors;   // front consumed per Backup call
  std::deque<Status> restore_errors;  // per Restore call
  std::deque<RestoreReport> restore_reports;  // per successful Restore call (default: restored)
  std::vector<RestoreOptions> restore_options;
  std::vector<std::string>* journal = nullptr;  // "backup", "restore:<path>" appended when set
  std::function<void()> on_backup;    // runs at the start of each Backup (to observe state)
  // Runs after a Restore that restored (to play what the restore did to the database, or a kill
  // right after it committed); audit_in_restore: the restore wrote options.audit_row itself (as
  // the real tool does, in its transaction), so the report says audit_recorded.
  std::function<void(const RestoreOptions&)> on_restored;
  bool audit_in_restore = false;

  std::vector<std::string> backup_paths;
  std::vector<std::string> restore_paths;
  std::vector<std::string> dsns;

  Result<BackupFile> Backup(const std::string& dsn, const std::string& path) override {
    if (on_backup) on_backup();
    backup_paths.push_back(path);
    dsns.push_back(dsn);
    if (journal) journal->push_back("backup");
    if (!backup_errors.empty()) {
      Status s = backup_errors.front();
      backup_errors.pop_front();
      if (!s.ok()) return s;
    }
    SU_RETURN_IF_ERROR(fs_->WriteFileAtomic(path, "PGDMP fake"));
    return BackupFile{path, 10, {}};
  }
  Result<RestoreReport> Restore(const std::string& dsn, const std::string& path,
                                const RestoreOptions& options) override {
    restore_paths.push_back(path);
    restore_options.push_back(options);
    dsns.push_back(dsn);
    if (journal) journal->push_back("restore:" + path);
    if (!restore_errors.empty()) {
      Status s = restore_errors.front();
      restore_errors.pop_front();
      if (!s.ok()) return s;
    }
    if (!restore_reports.empty()) {
      RestoreReport r = restore_reports.front();
      restore_reports.pop_front();
      return r;
    }
    RestoreReport r;
    r.restored = true;
    r.audit_recorded = audit_in_restore && options.audit_row.has_value();
    if (on_restored) on_restored(options);
    return r;
  }

 private:
  FileSystem* fs_;
};

}  // namespace su::testing
