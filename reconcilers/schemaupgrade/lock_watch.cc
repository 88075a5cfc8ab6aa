// pg_stat_activity watcher (see lock_watch.h).
#include "reconcilers/schemaupgrade/lock_watch.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "reconcilers/base/log.h"
#include "reconcilers/database/database.h"

namespace su {
namespace {

class PgWatch : public MigrationWatch {
 public:
  PgWatch(std::string dsn, std::chrono::milliseconds interval) : dsn_(std::move(dsn)), interval_(interval) {}
  ~PgWatch() override { Stop(); }

  void Start(int pid, std::chrono::milliseconds limit, std::function<void(const std::vector<BlockedSession>&)> on_blocked,
             std::function<void()> cancel) override {
    Stop();
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = false;
    }
    cancelled_ = false;
    thread_ = std::thread([this, pid, limit, on_blocked = std::move(on_blocked), cancel = std::move(cancel)] {
      auto db = ConnectPostgres(dsn_, "schema-upgrade-watch");
      if (!db.ok()) {
        LogWarn("lock.watch_unavailable", {{"error", db.status().ToString()}});
        return;
      }
      std::unique_lock<std::mutex> l(mu_);
      while (!stop_) {
        l.unlock();
        auto r = (*db)->Query(
            "SELECT a.pid, coalesce(a.application_name, ''), "
            "(extract(epoch FROM clock_timestamp() - coalesce(a.query_start, a.state_change)) * 1000)::bigint, "
            "left(coalesce(a.query, ''), 200) FROM pg_stat_activity a "
            "WHERE $1::int = ANY(pg_blocking_pids(a.pid)) ORDER BY 3 DESC",
            {std::to_string(pid)});
        if (r.ok()) {
          std::vector<BlockedSession> blocked;
          long long longest = 0;
          for (size_t i = 0; i < r->rows.size(); ++i) {
            BlockedSession b{std::stoi(r->Get(i, 0)), r->Get(i, 1), std::stoll(r->Get(i, 2, "0")), r->Get(i, 3)};
            longest = std::max(longest, b.waiting_ms);
            LogWarn("lock.blocked", {{"migration_pid", std::to_string(pid)}, {"blocked_pid", std::to_string(b.pid)},
                                     {"application", b.application_name}, {"waiting_ms", std::to_string(b.waiting_ms)},
                                     {"query", b.query}});
            blocked.push_back(std::move(b));
          }
          on_blocked(blocked);
          if (limit.count() > 0 && longest > limit.count() && !cancelled_) {
            LogWarn("lock.cancel_migration", {{"migration_pid", std::to_string(pid)},
                                              {"longest_wait_ms", std::to_string(longest)},
                                              {"limit_ms", std::to_string(limit.count())}});
            cancelled_ = true;
            cancel();
          }
        }
        l.lock();
        cv_.wait_for(l, interval_, [this] { return stop_; });
      }
    });
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool Cancelled() const override { return cancelled_; }

 private:
  std::string dsn_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = true;
  std::atomic<bool> cancelled_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<MigrationWatch> NewPgMigrationWatch(const std::string& dsn, std::chrono::milliseconds interval) {
  return std::make_unique<PgWatch>(dsn, interval);
}

}  // namespace su
