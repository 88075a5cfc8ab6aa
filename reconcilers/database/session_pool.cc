// SessionPool (see session_pool.h): one mutex guards every bucket; sessions are opened, pinged,
// reset and closed outside it (network I/O never runs under the lock).
#include "reconcilers/database/session_pool.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include "reconcilers/base/log.h"

namespace su {

using SteadyTime = std::chrono::steady_clock::time_point;

// What DISCARD ALL does (CLOSE ALL, SET SESSION AUTHORIZATION DEFAULT, RESET ALL, DEALLOCATE ALL,
// UNLISTEN *, pg_advisory_unlock_all(), DISCARD PLANS/TEMP/SEQUENCES: settings, role, cursors,
// prepared statements, temporary tables and session advisory locks), then the idle name.
const std::string kResetScript =
    "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; UNLISTEN *; "
    "SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES; "
    "SET application_name = '" + std::string(kIdleSessionName) + "'";

struct SessionPool::State {
  struct Idle {
    std::unique_ptr<Database> db;
    SteadyTime since;
  };
  struct Bucket {
    std::deque<Idle> idle;  // back: most recently returned
    int open = 0;           // idle + leased + being opened
  };

  explicit State(SessionPoolOptions o) : options(std::move(o)) {}

  const SessionPoolOptions options;
  mutable std::mutex mu;
  std::condition_variable freed;   // a slot or an idle session became available, or Close
  std::condition_variable reaper;  // an idle session was added, or Close
  std::map<std::string, Bucket> buckets;  // GUARDED_BY(mu), keyed by DSN
  bool closed = false;                    // GUARDED_BY(mu)
  int waiting = 0;                        // GUARDED_BY(mu)
  int idle_count = 0;                     // GUARDED_BY(mu), idle sessions over all buckets
  long long opened_total = 0, reused_total = 0, discarded_total = 0, idle_closed_total = 0;  // GUARDED_BY(mu)
  std::thread reaper_thread;

  // A session's slot is free again (the session was closed or failed to open).
  void FreeSlot(const std::string& dsn) {
    std::lock_guard<std::mutex> l(mu);
    auto it = buckets.find(dsn);
    if (it != buckets.end() && --it->second.open <= 0 && it->second.idle.empty()) buckets.erase(it);
    freed.notify_all();  // waiters may wait for another DSN
  }

  // Takes a leased session back: kept when clean (reset first when the lease may have left
  // session state or a name behind: needs_reset), else closed.
  void Return(const std::string& dsn, std::unique_ptr<Database> db, bool clean, bool needs_reset) {
    const char* why = nullptr;  // why it is closed instead of kept
    if (!clean) {
      why = "cancelled, or failed inside a transaction";
    } else if (!db->Healthy()) {
      why = "connection lost";
    } else if (db->TransactionState() != TxState::kIdle) {
      why = "returned inside a transaction";
    } else {
      std::lock_guard<std::mutex> l(mu);
      if (closed) why = "pool closed";
    }
    // DISCARD ALL's parts (DISCARD ALL itself refuses to run in the implicit transaction of a
    // multi-statement string), then the idle session is named for what it is in pg_stat_activity:
    // one round trip. The transaction state check above keeps it out of an open transaction.
    if (!why && needs_reset && !(db->ExecScript(kResetScript).ok() && db->TransactionState() == TxState::kIdle)) {
      why = "reset failed";
    }
    if (why) {
      db.reset();
      {
        std::lock_guard<std::mutex> l(mu);
        ++discarded_total;
      }
      LogInfo("db_pool.session_closed", {{"reason", why}});
      FreeSlot(dsn);
      return;
    }
    std::unique_ptr<Database> evicted;
    std::string evicted_dsn;
    {
      std::lock_guard<std::mutex> l(mu);
      buckets[dsn].idle.push_back(Idle{std::move(db), std::chrono::steady_clock::now()});
      if (++idle_count > options.max_idle_total) {
        // Over the total: the session idle the longest, whatever its database, is closed.
        Bucket* oldest = nullptr;
        for (auto& [d, b] : buckets) {
          if (!b.idle.empty() && (!oldest || b.idle.front().since < oldest->idle.front().since)) {
            oldest = &b;
            evicted_dsn = d;
          }
        }
        evicted = std::move(oldest->idle.front().db);
        oldest->idle.pop_front();
        --idle_count;
        ++idle_closed_total;
      }
      freed.notify_all();  // waiters may wait for another DSN
      reaper.notify_one();
    }
    if (evicted) {
      evicted.reset();
      FreeSlot(evicted_dsn);
    }
  }

  // Closes sessions idle past the timeout until Close.
  void Reap() {
    std::unique_lock<std::mutex> l(mu);
    while (!closed) {
      std::vector<std::unique_ptr<Database>> expired;
      std::vector<std::string> expired_dsns;
      auto now = std::chrono::steady_clock::now();
      std::optional<SteadyTime> next;
      for (auto& [dsn, b] : buckets) {
        // Oldest first: the front of the deque was returned longest ago.
        while (!b.idle.empty() && now - b.idle.front().since >= options.idle_timeout) {
          expired.push_back(std::move(b.idle.front().db));
          expired_dsns.push_back(dsn);
          b.idle.pop_front();
          --idle_count;
        }
        if (!b.idle.empty()) {
          SteadyTime at = b.idle.front().since + options.idle_timeout;
          if (!next || at < *next) next = at;
        }
      }
      if (!expired.empty()) {
        idle_closed_total += static_cast<long long>(expired.size());
        l.unlock();
        expired.clear();  // closes them, outside the lock
        for (const auto& dsn : expired_dsns) FreeSlot(dsn);
        l.lock();
        continue;
      }
      if (next) {
        reaper.wait_until(l, *next);
      } else {
        reaper.wait(l);
      }
    }
  }
};

namespace {

// True when sql (one statement the tool itself wrote) cannot leave anything in the session after
// it ends outside a transaction: a plain SELECT / WITH / INSERT / UPDATE / DELETE that calls no
// function keeping session state (advisory locks, settings, sequences' currval, notifications)
// and names no temporary object. Conservative: anything else counts as leaving state.
bool LeavesNoSessionState(const std::string& sql) {
  size_t i = sql.find_first_not_of(" \t\r\n(");
  if (i == std::string::npos) return false;
  std::string head;
  for (; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i) {
    head += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i])));
  }
  if (head != "select" && head != "with" && head != "insert" && head != "update" && head != "delete") return false;
  std::string lower(sql.size(), ' ');
  std::transform(sql.begin(), sql.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"advisory", "set_config", "nextval", "setval", "currval", "notify", "listen", "temp",
                           "dblink", "prepare", "declare"}) {
    if (lower.find(word) != std::string::npos) return false;
  }
  return true;
}

// A leased session: forwards to the real one, remembers what makes it unfit for reuse (or in need
// of a reset), names the session for its user before the first statement that can leave anything
// behind, and returns it to the pool when destroyed.
class PooledSession : public Database {
 public:
  // named: the session already carries app's name (just opened with it).
  PooledSession(std::shared_ptr<SessionPool::State> pool, std::string dsn, std::string app, std::unique_ptr<Database> db,
                bool named)
      : pool_(std::move(pool)), dsn_(std::move(dsn)), app_(std::move(app)), db_(std::move(db)), named_(named),
        reused_(!named) {}
  ~PooledSession() override {
    pool_->Return(dsn_, std::move(db_), !cancelled_ && !failed_in_transaction_, dirty_ || named_);
  }

  Result<QueryResult> Query(const std::string& sql, const std::vector<SqlValue>& params) override {
    return First([&] {
      if (!LeavesNoSessionState(sql)) {
        dirty_ = true;
        if (!named_) {
          // Named in the same round trip (a pipeline) when sql may run in a transaction block.
          auto r = IsSelect(sql) ? db_->QueryAs(app_, sql, params) : NameThen([&] { return db_->Query(sql, params); });
          if (r.ok()) named_ = true;
          return r;
        }
      }
      return db_->Query(sql, params);
    });
  }
  Status ExecScript(const std::string& sql) override {
    auto r = First([&]() -> Result<QueryResult> {
      dirty_ = true;
      return NameThen([&]() -> Result<QueryResult> {
        Status s = db_->ExecScript(sql);
        if (!s.ok()) return s;
        return QueryResult{};
      });
    });
    return r.ok() ? Status::Ok() : r.status();
  }
  Status ExecBatch(const std::vector<std::string_view>& statements, int* failed) override {
    dirty_ = true;
    started_ = true;
    if (!named_) {
      auto n = db_->Query("SELECT set_config('application_name', $1, false)", {app_});
      if (!n.ok()) {
        NoteError();
        if (failed) *failed = -1;
        return n.status();
      }
      named_ = true;
    }
    Status s = db_->ExecBatch(statements, failed);
    if (!s.ok()) NoteError();
    return s;
  }
  Result<QueryResult> QueryAs(const std::string& app, const std::string& sql,
                              const std::vector<SqlValue>& params) override {
    dirty_ = true;
    auto r = First([&] { return db_->QueryAs(app, sql, params); });
    if (r.ok()) {
      app_ = app;
      named_ = true;
    }
    return r;
  }
  int BackendPid() override { return db_->BackendPid(); }
  Status Cancel() override {
    cancelled_ = true;
    return db_->Cancel();
  }
  bool Healthy() override { return db_->Healthy(); }
  TxState TransactionState() override { return db_->TransactionState(); }

 private:
  static bool IsSelect(const std::string& sql) {
    size_t i = sql.find_first_not_of(" \t\r\n(");
    if (i == std::string::npos) return false;
    auto kw = [&](const char* w) {
      size_t n = std::strlen(w);
      if (sql.size() - i < n) return false;
      for (size_t k = 0; k < n; ++k) {
        if (std::tolower(static_cast<unsigned char>(sql[i + k])) != w[k]) return false;
      }
      return true;
    };
    return kw("select") || kw("with");
  }

  // Names the session (a round trip of its own) when it is not yet, then runs f.
  Result<QueryResult> NameThen(const std::function<Result<QueryResult>()>& f) {
    if (!named_) {
      auto n = db_->Query("SELECT set_config('application_name', $1, false)", {app_});
      if (!n.ok()) return n.status();
      named_ = true;
    }
    return f();
  }

  // Runs the lease's statement f; the first statement on a reused session that finds the
  // connection gone (a backend killed without a goodbye, a network cut: Healthy() could not see
  // it) is re-run once on a new session, so callers never see a dead pooled session.
  Result<QueryResult> First(const std::function<Result<QueryResult>()>& f) {
    const bool first = !started_;
    started_ = true;
    auto r = f();
    if (!r.ok() && first && reused_ && r.status().code() == Code::kUnavailable && !db_->Healthy()) {
      auto fresh = pool_->options.open(dsn_, app_);
      if (fresh.ok()) {
        LogInfo("db_pool.session_replaced", {{"reason", "connection lost before the lease's first statement"}});
        db_ = std::move(fresh).value();
        named_ = true;
        reused_ = false;
        r = f();
      }
    }
    if (!r.ok()) NoteError();
    return r;
  }

  void NoteError() {
    if (db_->TransactionState() != TxState::kIdle) failed_in_transaction_ = true;
  }

  std::shared_ptr<SessionPool::State> pool_;
  const std::string dsn_;
  std::string app_;
  std::unique_ptr<Database> db_;
  std::atomic<bool> cancelled_{false};  // Cancel() may come from another thread
  bool failed_in_transaction_ = false;
  bool named_;           // application_name is app_ (else the idle name: reset on return)
  bool reused_;          // taken from the idle list (not opened for this lease)
  bool started_ = false; // a statement ran on this lease
  bool dirty_ = false;   // a statement that may leave session state ran: reset on return
};

}  // namespace

SessionPool::SessionPool(SessionPoolOptions options) : state_(std::make_shared<State>(std::move(options))) {
  state_->reaper_thread = std::thread([s = state_.get()] { s->Reap(); });
}

SessionPool::~SessionPool() { Close(); }

void SessionPool::Close() {
  std::vector<std::unique_ptr<Database>> idle;
  {
    std::lock_guard<std::mutex> l(state_->mu);
    if (state_->closed) return;
    state_->closed = true;
    for (auto& [dsn, b] : state_->buckets) {
      for (auto& i : b.idle) idle.push_back(std::move(i.db));
      b.open -= static_cast<int>(b.idle.size());
      b.idle.clear();
    }
    state_->idle_count = 0;
    state_->freed.notify_all();
    state_->reaper.notify_all();
  }
  idle.clear();
  if (state_->reaper_thread.joinable()) state_->reaper_thread.join();
}

Result<std::unique_ptr<Database>> SessionPool::Acquire(const std::string& dsn, const std::string& app) {
  State& s = *state_;
  bool logged_wait = false;
  std::unique_lock<std::mutex> l(s.mu);
  for (;;) {
    if (s.closed) return Status::Error(Code::kCancelled, "the session pool is closed (shutting down)");
    State::Bucket& b = s.buckets[dsn];
    if (!b.idle.empty()) {
      std::unique_ptr<Database> db = std::move(b.idle.back().db);
      b.idle.pop_back();
      --s.idle_count;
      l.unlock();
      // Healthy() reads a terminated backend's goodbye without a round trip (a connection lost
      // without one is replaced at the lease's first statement). The session is named for its
      // new user with the first statement that can leave something behind, in the same round
      // trip: a lease that only reads costs no round trip of the pool's.
      bool alive = db->Healthy() && db->TransactionState() == TxState::kIdle;
      if (alive) {
        {
          std::lock_guard<std::mutex> g(s.mu);
          ++s.reused_total;
        }
        return std::unique_ptr<Database>(new PooledSession(state_, dsn, app, std::move(db), /*named=*/false));
      }
      db.reset();
      {
        std::lock_guard<std::mutex> g(s.mu);
        ++s.discarded_total;
      }
      LogInfo("db_pool.session_dropped", {{"reason", "dead or not clean when reused"}});
      s.FreeSlot(dsn);
      l.lock();
      continue;
    }
    if (b.open < s.options.max_per_database) {
      ++b.open;
      l.unlock();
      auto db = s.options.open(dsn, app);
      if (!db.ok()) {
        s.FreeSlot(dsn);
        return db.status();
      }
      {
        std::lock_guard<std::mutex> g(s.mu);
        ++s.opened_total;
      }
      return std::unique_ptr<Database>(new PooledSession(state_, dsn, app, std::move(db).value(), /*named=*/true));
    }
    if (!logged_wait) {
      LogInfo("db_pool.waiting", {{"application_name", app},
                                  {"max_per_database", std::to_string(s.options.max_per_database)}});
      logged_wait = true;
    }
    ++s.waiting;
    s.freed.wait(l);
    --s.waiting;
  }
}

SessionPoolStats SessionPool::Stats() const {
  std::lock_guard<std::mutex> l(state_->mu);
  SessionPoolStats st;
  for (const auto& [dsn, b] : state_->buckets) {
    st.open += b.open;
    st.idle += static_cast<int>(b.idle.size());
  }
  st.in_use = st.open - st.idle;
  st.waiting = state_->waiting;
  st.opened_total = state_->opened_total;
  st.reused_total = state_->reused_total;
  st.discarded_total = state_->discarded_total;
  st.idle_closed_total = state_->idle_closed_total;
  return st;
}

}  // namespace su
