// pg_stat_activity watcher (see lock_watch.h).
#include "reconcilers/schemaupgrade/lock_watch.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "reconcilers/base/log.h"
#include "reconcilers/database/database.h"

namespace su {
namespace {

// Sessions blocked by $1 with how long each has waited on its lock according to the server
// (NULL when pg_locks has no waitstart for it yet, e.g. not a heavyweight lock).
constexpr const char* kBlockedQuery =
    "SELECT a.pid, coalesce(a.application_name, ''), "
    "(SELECT (extract(epoch FROM clock_timestamp() - min(l.waitstart)) * 1000)::bigint FROM pg_locks l "
    " WHERE l.pid = a.pid AND NOT l.granted), "
    "left(coalesce(a.query, ''), 200), coalesce(a.backend_start::text, '') FROM pg_stat_activity a "
    "WHERE $1::int = ANY(pg_blocking_pids(a.pid))";

class PgWatch : public MigrationWatch {
 public:
  PgWatch(std::string dsn, std::chrono::milliseconds interval) : dsn_(std::move(dsn)), interval_(interval) {}
  ~PgWatch() override { Stop(); }

  Status Start(int pid, std::chrono::milliseconds limit,
               std::function<void(const std::vector<BlockedSession>&)> on_blocked,
               std::function<void()> cancel) override {
    Stop();
    auto db = Open(pid);
    if (!db.ok()) return db.status();
    Begin();
    thread_ = std::thread([this, pid, limit, db = std::move(db).value(), on_blocked = std::move(on_blocked),
                           cancel = std::move(cancel)]() mutable { Loop(db.get(), pid, limit, on_blocked, cancel); });
    return Status::Ok();
  }

  Status StartLazy(int pid, std::chrono::milliseconds limit, std::chrono::milliseconds open_after,
                   std::function<void(const std::vector<BlockedSession>&)> on_blocked, std::function<void()> cancel,
                   std::function<void(const Status&)> on_unavailable) override {
    if (open_after.count() <= 0) return Start(pid, limit, std::move(on_blocked), std::move(cancel));
    Stop();
    Begin();
    thread_ = std::thread([this, pid, limit, open_after, on_blocked = std::move(on_blocked),
                           cancel = std::move(cancel), on_unavailable = std::move(on_unavailable)]() mutable {
      if (!WaitForLongStatement(open_after)) return;  // stopped first: never needed a session
      auto db = Open(pid);
      if (!db.ok()) {
        if (on_unavailable) on_unavailable(db.status());
        return;
      }
      LogInfo("lock.watch_opened", {{"migration_pid", std::to_string(pid)},
                                    {"after_ms", std::to_string(open_after.count())}});
      Loop(db->get(), pid, limit, on_blocked, cancel);
    });
    return Status::Ok();
  }

  void StatementStarted() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      busy_ = true;
      busy_since_ = std::chrono::steady_clock::now();
    }
    cv_.notify_all();
  }

  void StatementsDone() override {
    std::lock_guard<std::mutex> l(mu_);
    busy_ = false;
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
  Result<std::unique_ptr<Database>> Open(int pid) {
    auto db = ConnectPostgres(dsn_, "schema-upgrade-watch");
    if (!db.ok()) {
      LogWarn("lock.watch_unavailable", {{"migration_pid", std::to_string(pid)}, {"error", db.status().ToString()}});
      return Status::Error(Code::kUnavailable, "the blocked-session watch cannot open its database session: " +
                                                   db.status().message());
    }
    return db;
  }

  void Begin() {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
    busy_ = false;
    cancelled_ = false;
  }

  // True once a statement has run for open_after without StatementsDone(); false when stopped.
  bool WaitForLongStatement(std::chrono::milliseconds open_after) {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      if (!busy_) {
        cv_.wait(l);
        continue;
      }
      auto due = busy_since_ + open_after;
      if (std::chrono::steady_clock::now() >= due) return true;
      cv_.wait_until(l, due);
    }
    return false;
  }

  void Loop(Database* db, int pid, std::chrono::milliseconds limit,
            const std::function<void(const std::vector<BlockedSession>&)>& on_blocked,
            const std::function<void()>& cancel) {
    // First poll that saw each blocked session (keyed by pid and backend start, so a reused pid is a
    // new session); a session that is no longer blocked is forgotten, and waits afresh next time.
    std::map<std::string, std::chrono::steady_clock::time_point> first_seen;
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      l.unlock();
      auto r = db->Query(kBlockedQuery, {std::to_string(pid)});
      auto now = std::chrono::steady_clock::now();
      if (r.ok()) {
        std::vector<BlockedSession> blocked;
        std::map<std::string, std::chrono::steady_clock::time_point> seen;
        long long longest = 0;
        for (size_t i = 0; i < r->rows.size(); ++i) {
          std::string key = r->Get(i, 0) + "@" + r->Get(i, 4);
          auto it = first_seen.find(key);
          auto since = it == first_seen.end() ? now : it->second;
          seen[key] = since;
          long long watched = std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
          // The server's waitstart is exact; our own first sighting is at most one interval late.
          long long waiting = r->rows[i][2] ? std::max(0LL, std::stoll(*r->rows[i][2])) : watched;
          BlockedSession b{std::stoi(r->Get(i, 0)), r->Get(i, 1), waiting, r->Get(i, 3)};
          longest = std::max(longest, b.waiting_ms);
          LogWarn("lock.blocked", {{"migration_pid", std::to_string(pid)}, {"blocked_pid", std::to_string(b.pid)},
                                   {"application", b.application_name}, {"waiting_ms", std::to_string(b.waiting_ms)},
                                   {"query", b.query}});
          blocked.push_back(std::move(b));
        }
        first_seen = std::move(seen);
        std::sort(blocked.begin(), blocked.end(),
                  [](const BlockedSession& a, const BlockedSession& b) { return a.waiting_ms > b.waiting_ms; });
        on_blocked(blocked);
        if (limit.count() > 0 && longest > limit.count() && !cancelled_) {
          LogWarn("lock.cancel_migration", {{"migration_pid", std::to_string(pid)},
                                            {"longest_wait_ms", std::to_string(longest)},
                                            {"limit_ms", std::to_string(limit.count())}});
          cancelled_ = true;
          cancel();
        }
      } else {
        LogWarn("lock.watch_query_failed", {{"migration_pid", std::to_string(pid)}, {"error", r.status().ToString()}});
      }
      l.lock();
      cv_.wait_for(l, interval_, [this] { return stop_; });
    }
  }

  std::string dsn_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = true;                                    // guarded by mu_
  bool busy_ = false;                                   // guarded by mu_: a statement is running
  std::chrono::steady_clock::time_point busy_since_;   // guarded by mu_: when the latest one started
  std::atomic<bool> cancelled_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<MigrationWatch> NewPgMigrationWatch(const std::string& dsn, std::chrono::milliseconds interval) {
  return std::make_unique<PgWatch>(dsn, interval);
}

}  // namespace su
