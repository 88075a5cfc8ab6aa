// Counting wrappers for cost tests: CountingFileSystem counts ReadFile calls per path over a real
// (or fake) FileSystem; CountingDatabase counts round trips (Query, ExecScript and ExecBatch calls,
// one each) over a real session. Both delegate everything else unchanged.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/database/database.h"

namespace su::testing {

class CountingFileSystem : public FileSystem {
 public:
  explicit CountingFileSystem(FileSystem* inner) : inner_(inner) {}
  Result<std::string> ReadFile(const std::string& path) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++reads_[path];
    }
    return inner_->ReadFile(path);
  }
  Status WriteFileAtomic(const std::string& path, const std::string& content) override {
    return inner_->WriteFileAtomic(path, content);
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return inner_->ListDir(dir); }
  Result<std::vector<DirEntry>> ListDirEntries(const std::string& dir) override {
    return inner_->ListDirEntries(dir);
  }
  bool Exists(const std::string& path) override { return inner_->Exists(path); }
  bool IsDir(const std::string& path) override { return inner_->IsDir(path); }
  Status MakeDirs(const std::string& path) override { return inner_->MakeDirs(path); }
  Status Remove(const std::string& path) override { return inner_->Remove(path); }
  Result<FileStamp> Stat(const std::string& path) override { return inner_->Stat(path); }

  int reads(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    return reads_.count(path) ? reads_[path] : 0;
  }
  int total_reads() {
    std::lock_guard<std::mutex> l(mu_);
    int n = 0;
    for (const auto& [p, c] : reads_) n += c;
    return n;
  }
  std::map<std::string, int> all_reads() {
    std::lock_guard<std::mutex> l(mu_);
    return reads_;
  }

 private:
  FileSystem* inner_;
  std::mutex mu_;
  std::map<std::string, int> reads_;
};

// What a set of CountingDatabase sessions sent, one entry per round trip.
class SqlLog {
 public:
  void Note(std::string sql) {
    std::lock_guard<std::mutex> l(mu_);
    sent_.push_back(std::move(sql));
  }
  int round_trips() {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<int>(sent_.size());
  }
  std::vector<std::string> sent() {
    std::lock_guard<std::mutex> l(mu_);
    return sent_;
  }
  void Reset() {
    std::lock_guard<std::mutex> l(mu_);
    sent_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> sent_;
};

class CountingDatabase : public Database {
 public:
  explicit CountingDatabase(Database* inner, std::shared_ptr<SqlLog> log = std::make_shared<SqlLog>())
      : inner_(inner), log_(std::move(log)) {}
  CountingDatabase(std::unique_ptr<Database> owned, std::shared_ptr<SqlLog> log)
      : owned_(std::move(owned)), inner_(owned_.get()), log_(std::move(log)) {}
  Result<QueryResult> Query(const std::string& sql, const std::vector<SqlValue>& params) override {
    log_->Note(sql);
    return inner_->Query(sql, params);
  }
  Status ExecScript(const std::string& sql) override {
    log_->Note(sql);
    return inner_->ExecScript(sql);
  }
  Status ExecBatch(const std::vector<std::string_view>& statements, int* failed) override {
    std::string joined;
    for (auto s : statements) joined += std::string(s) + ";\n";
    log_->Note(joined);
    return inner_->ExecBatch(statements, failed);
  }
  int BackendPid() override { return inner_->BackendPid(); }
  Status Cancel() override { return inner_->Cancel(); }
  bool Healthy() override { return inner_->Healthy(); }

  int round_trips() { return log_->round_trips(); }
  std::vector<std::string> sent() { return log_->sent(); }
  void Reset() { log_->Reset(); }

 private:
  std::unique_ptr<Database> owned_;
  Database* inner_;
  std::shared_ptr<SqlLog> log_;
};

}  // namespace su::testing
