// Database: the reconciler's only door to PostgreSQL. One Database is one session (one libpq
// connection): session advisory locks and SET commands live as long as it does.
// Not thread-safe, except Cancel(), which may be called from another thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

using SqlValue = std::optional<std::string>;  // nullopt is SQL NULL; values in text format
using SqlRow = std::vector<SqlValue>;

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<SqlRow> rows;
  long long affected = 0;  // rows affected (INSERT/UPDATE/DELETE), 0 otherwise

  // Value of row r, column c, or fallback when NULL.
  std::string Get(size_t r, size_t c, const std::string& fallback = "") const {
    return rows[r][c].value_or(fallback);
  }
};

// Where a session stands between statements (libpq's PQtransactionStatus). kUnknown when it cannot
// be told (a broken connection, or a Database that does not track it): treat as not reusable.
enum class TxState { kIdle, kActive, kInTransaction, kInError, kUnknown };

class Database {
 public:
  virtual ~Database() = default;

  // One statement with $1..$n parameters (PQexecParams). Errors are kDatabase with sqlstate();
  // the message names the server's message, detail, hint and position. SQLSTATE 55P03
  // (lock_not_available) is returned as kLockTimeout; 57014 (query_canceled) as kCancelled.
  virtual Result<QueryResult> Query(const std::string& sql, const std::vector<SqlValue>& params = {}) = 0;

  // Like Query, no result rows wanted.
  Status Exec(const std::string& sql, const std::vector<SqlValue>& params = {}) {
    auto r = Query(sql, params);
    return r.ok() ? Status::Ok() : r.status();
  }

  // Runs a script of one or more statements in one round trip (PQexec, simple protocol).
  // Used for migration statements that may not be parameterised.
  virtual Status ExecScript(const std::string& sql) = 0;

  // Sends `statements` (each one SQL statement, none blank) as ONE simple query (one round trip;
  // joined with ";\n") and reads every result. Inside an explicit transaction block they run in
  // it; outside one, PostgreSQL runs them as one implicit transaction (so never batch statements
  // that refuse to run in a transaction block, such as CREATE INDEX CONCURRENTLY). On the first
  // failing statement the server skips the rest: the error is returned as ExecScript's, with
  // *failed (when not null) set to that statement's 0-based index and "at character N" counted
  // from the start of that statement; *failed is -1 when the batch could not be sent at all.
  // The default runs them one ExecScript at a time (fakes).
  virtual Status ExecBatch(const std::vector<std::string_view>& statements, int* failed) {
    for (size_t i = 0; i < statements.size(); ++i) {
      Status s = ExecScript(std::string(statements[i]));
      if (!s.ok()) {
        if (failed) *failed = static_cast<int>(i);
        return s;
      }
    }
    return Status::Ok();
  }

  // The server process id of this session (pg_backend_pid()).
  virtual int BackendPid() = 0;

  // Asks the server to cancel whatever this session is running now. Thread-safe.
  virtual Status Cancel() = 0;

  // True when the connection is still usable. A session that is not running anything also reads
  // what the server may have sent meanwhile (no round trip): a backend terminated by
  // pg_terminate_backend or a server shutdown reads as unhealthy.
  virtual bool Healthy() = 0;

  // The session's transaction state now (no round trip).
  virtual TxState TransactionState() { return TxState::kUnknown; }

  // Query(sql, params) with application_name set to `app` first, in ONE round trip where the
  // session can (PostgreSQL: a libpq pipeline of set_config and sql, one implicit transaction, so
  // the name is set only when sql succeeds; sql must then be a statement that may run in a
  // transaction block). The default: two round trips.
  virtual Result<QueryResult> QueryAs(const std::string& app, const std::string& sql,
                                      const std::vector<SqlValue>& params = {}) {
    auto named = Query("SELECT set_config('application_name', $1, false)", {app});
    if (!named.ok()) return named.status();
    return Query(sql, params);
  }
};

// Round trips to PostgreSQL servers made by this process's sessions so far (every Query,
// ExecScript, ExecBatch and QueryAs counts one; connecting is not counted). For tests and
// /metrics: what a reconcile pass costs the database.
long long PostgresRoundTrips();

// Opens a session. application_name is set so pg_stat_activity shows who holds a lock.
// Errors never contain the DSN or password; kUnavailable when the server cannot be reached;
// kInvalidArgument (bad input, never retried) when the DSN is malformed (see ValidateDsn) or
// libpq rejects an option value.
Result<std::unique_ptr<Database>> ConnectPostgres(const std::string& dsn, const std::string& application_name,
                                                  std::chrono::seconds connect_timeout = std::chrono::seconds(10));

// Checks a DSN without connecting: PQconninfoParse (bad %-encoding, unknown options, missing '=')
// plus the port numbers, which libpq checks only when connecting. kInvalidArgument never quotes
// a value (option names and a bad port are shown).
Status ValidateDsn(const std::string& dsn);

// The DSN as libpq accepts it: URL query options of Ory's pop driver (max_conns, max_idle_conns,
// max_conn_lifetime, max_conn_idle_time) removed; everything else unchanged.
std::string LibpqDsn(const std::string& dsn);

// SQL quoting for identifiers ("a""b") and literals ('it''s'). Prefer parameters for values.
std::string QuoteIdent(const std::string& ident);
std::string QuoteLiteral(const std::string& value);
// Quotes a possibly schema-qualified name "schema.table" part by part.
std::string QuoteQualified(const std::string& name);

// RAII transaction on a Database: BEGIN in Begin(), ROLLBACK in the destructor unless committed.
class Transaction {
 public:
  static Result<Transaction> Begin(Database* db);
  Transaction(Transaction&& o) noexcept : db_(o.db_), done_(o.done_) { o.done_ = true; }
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status Commit();
  Status Rollback();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
  bool done_ = false;
};

}  // namespace su
