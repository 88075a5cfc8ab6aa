// FakeDatabaseServer / FakeDatabase: an in-memory stand-in for PostgreSQL sessions, for unit tests
// of code that only needs the session plumbing (current_database(), session advisory locks, audit
// log writes, transactions). Every statement is recorded on the server, so a test can assert on
// what a session did after the code under test has closed it. Unknown statements succeed with no
// rows; a test scripts failures by substring.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "reconcilers/database/database.h"

namespace su::testing {

struct FakeStatement {
  int session = 0;
  std::string sql;
  std::vector<SqlValue> params;
};

class FakeDatabaseServer {
 public:
  std::string database_name = "fakedb";
  // False: pg_try_advisory_lock answers 'f' (another session holds every lock).
  bool lock_available = true;
  // Results of the next Connect() calls, front first; empty (or an ok Status): connect.
  std::deque<Status> connect_results;
  // A statement whose SQL contains .first fails with .second (every time).
  std::vector<std::pair<std::string, Status>> failures;

  Result<std::unique_ptr<Database>> Connect(const std::string& dsn, const std::string& app);

  std::vector<FakeStatement> Statements() const {
    std::lock_guard<std::mutex> l(mu_);
    return statements_;
  }
  int CountContaining(const std::string& needle) const {
    std::lock_guard<std::mutex> l(mu_);
    int n = 0;
    for (const auto& s : statements_) n += s.sql.find(needle) != std::string::npos;
    return n;
  }
  int connects() const { std::lock_guard<std::mutex> l(mu_); return connects_; }
  int open_sessions() const { std::lock_guard<std::mutex> l(mu_); return open_; }
  int cancels() const { std::lock_guard<std::mutex> l(mu_); return cancels_; }
  // Session id holding the (single, fake) advisory lock; 0 when free.
  int lock_holder() const { std::lock_guard<std::mutex> l(mu_); return lock_holder_; }
  std::vector<std::string> dsns() const { std::lock_guard<std::mutex> l(mu_); return dsns_; }
  std::vector<std::string> apps() const { std::lock_guard<std::mutex> l(mu_); return apps_; }

  // The audit log, as far as AuditLog::Record writes it and LastId/Since read it (one table for
  // every schema): rows recorded by the code under test, and rows a test adds to play a step that
  // records its own row (a restore's, a down file's).
  struct AuditRow {
    long long id = 0;
    std::string resource, direction, status, version, detail;
  };
  void AddAuditRow(const std::string& resource, const std::string& direction, const std::string& status,
                   const std::string& version = "", const std::string& detail = "") {
    std::lock_guard<std::mutex> l(mu_);
    audit_.push_back({++next_id_, resource, direction, status, version, detail});
  }
  // "<direction> <status>" of each row of `resource`, oldest first.
  std::vector<std::string> AuditTrail(const std::string& resource) const {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<std::string> out;
    for (const auto& a : audit_) {
      if (a.resource == resource) out.push_back(a.direction + " " + a.status);
    }
    return out;
  }

 private:
  friend class FakeDatabase;
  Result<QueryResult> Run(int session, const std::string& sql, const std::vector<SqlValue>& params) {
    std::lock_guard<std::mutex> l(mu_);
    statements_.push_back({session, sql, params});
    for (const auto& f : failures) {
      if (sql.find(f.first) != std::string::npos) return f.second;
    }
    QueryResult r;
    auto one = [&r](const std::string& column, const std::string& v) {
      r.columns = {column};
      r.rows = {SqlRow{v}};
    };
    if (sql == "SELECT current_database()") {
      one("current_database", database_name);
    } else if (sql.find("pg_try_advisory_lock") != std::string::npos) {
      bool got = lock_available && (lock_holder_ == 0 || lock_holder_ == session);
      if (got) lock_holder_ = session;
      one("pg_try_advisory_lock", got ? "t" : "f");
    } else if (sql.find("pg_advisory_unlock") != std::string::npos) {
      bool held = lock_holder_ == session;
      if (held) lock_holder_ = 0;
      one("pg_advisory_unlock", held ? "t" : "f");
    } else if (sql.rfind("INSERT INTO", 0) == 0 && sql.find("schema_upgrade_log") != std::string::npos &&
               sql.find("VALUES ($1,$2,$3,$4,$5,$6,$7,") != std::string::npos && params.size() > 13) {
      // AuditLog::Record
      audit_.push_back({++next_id_, params[0].value_or(""), params[4].value_or(""), params[6].value_or(""),
                        params[2].value_or(""), params[13].value_or("")});
      r.affected = 1;
    } else if (sql.find("coalesce(max(id), 0)") != std::string::npos && sql.find("schema_upgrade_log") != std::string::npos) {
      long long last = 0;  // AuditLog::LastId
      for (const auto& a : audit_) {
        if (!params.empty() && a.resource == params[0].value_or("")) last = a.id;
      }
      one("coalesce", std::to_string(last));
    } else if (sql.rfind("SELECT id, direction, status, version, detail FROM", 0) == 0 && params.size() > 1) {
      r.columns = {"id", "direction", "status", "version", "detail"};  // AuditLog::Since
      const long long after = std::stoll(params[1].value_or("0"));
      for (const auto& a : audit_) {
        if (a.resource == params[0].value_or("") && a.id > after) {
          r.rows.push_back(SqlRow{std::to_string(a.id), a.direction, a.status, a.version, a.detail});
        }
      }
    } else if (sql.find("RETURNING id") != std::string::npos) {
      one("id", std::to_string(++next_id_));
      r.affected = 1;
    } else if (sql.rfind("INSERT", 0) == 0 || sql.rfind("UPDATE", 0) == 0) {
      r.affected = 1;
    }
    return r;
  }
  void Closed(int session) {
    std::lock_guard<std::mutex> l(mu_);
    --open_;
    if (lock_holder_ == session) lock_holder_ = 0;  // session locks die with the session
  }
  void Cancelled() { std::lock_guard<std::mutex> l(mu_); ++cancels_; }

  mutable std::mutex mu_;
  std::vector<FakeStatement> statements_;
  int connects_ = 0;
  int open_ = 0;
  int cancels_ = 0;
  int lock_holder_ = 0;
  int next_session_ = 0;
  long long next_id_ = 0;
  std::vector<std::string> dsns_;
  std::vector<std::string> apps_;
  std::vector<AuditRow> audit_;
};

class FakeDatabase : public Database {
 public:
  FakeDatabase(FakeDatabaseServer* server, int session) : server_(server), session_(session) {}
  ~FakeDatabase() override { server_->Closed(session_); }
  Result<QueryResult> Query(const std::string& sql, const std::vector<SqlValue>& params = {}) override {
    return server_->Run(session_, sql, params);
  }
  Status ExecScript(const std::string& sql) override {
    auto r = server_->Run(session_, sql, {});
    return r.ok() ? Status::Ok() : r.status();
  }
  int BackendPid() override { return 4000 + session_; }
  Status Cancel() override {
    server_->Cancelled();
    return Status::Ok();
  }
  bool Healthy() override { return true; }
  int session() const { return session_; }

 private:
  FakeDatabaseServer* server_;
  int session_;
};

inline Result<std::unique_ptr<Database>> FakeDatabaseServer::Connect(const std::string& dsn, const std::string& app) {
  int session = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++connects_;
    dsns_.push_back(dsn);
    apps_.push_back(app);
    if (!connect_results.empty()) {
      Status s = connect_results.front();
      connect_results.pop_front();
      if (!s.ok()) return s;
    }
    session = ++next_session_;
    ++open_;
  }
  return std::unique_ptr<Database>(std::make_unique<FakeDatabase>(this, session));
}

}  // namespace su::testing
