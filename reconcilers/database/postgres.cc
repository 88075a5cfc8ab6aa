// libpq implementation of Database (see database.h).
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "reconcilers/base/secrets.h"
#include "reconcilers/database/database.h"
#include "reconcilers/database/pg_handle.h"

namespace su {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Turns a failed PGresult into a Status naming message, detail, hint and position (minus
// pos_offset characters: the start of the failing statement inside a batch).
Status ErrorFrom(PGresult* res, PGconn* conn, long long pos_offset = 0) {
  if (!res) return Status::Error(Code::kUnavailable, Scrub(Trim(PQerrorMessage(conn))));
  auto field = [&](int code) -> std::string {
    const char* v = PQresultErrorField(res, code);
    return v ? v : "";
  };
  std::string sqlstate = field(PG_DIAG_SQLSTATE);
  std::string msg = field(PG_DIAG_MESSAGE_PRIMARY);
  if (msg.empty()) msg = Trim(PQresultErrorMessage(res));
  std::string detail = field(PG_DIAG_MESSAGE_DETAIL);
  std::string hint = field(PG_DIAG_MESSAGE_HINT);
  std::string pos = field(PG_DIAG_STATEMENT_POSITION);
  if (!detail.empty()) msg += "; detail: " + detail;
  if (!hint.empty()) msg += "; hint: " + hint;
  if (!pos.empty() && pos_offset > 0) {
    long long p = 0;
    for (char c : pos) p = (c >= '0' && c <= '9') ? p * 10 + (c - '0') : p;
    if (p > pos_offset) pos = std::to_string(p - pos_offset);
  }
  if (!pos.empty()) msg += "; at character " + pos;
  Status s = Status::Database(Scrub(msg), sqlstate);
  if (sqlstate == "55P03") return s.WithCode(Code::kLockTimeout);
  if (sqlstate == "57014") return s.WithCode(Code::kCancelled);
  if (PQstatus(conn) == CONNECTION_BAD) return s.WithCode(Code::kUnavailable);
  // Connection exceptions (class 08) and a server shutting down or starting up (57P01..57P03) are
  // outages, retried, even when libpq has not marked the connection bad yet.
  if (sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return s.WithCode(Code::kUnavailable);
  }
  return s;
}

std::atomic<long long> g_round_trips{0};

QueryResult ToQueryResult(PGresult* res) {
  QueryResult out;
  int nf = PQnfields(res);
  int nt = PQntuples(res);
  for (int c = 0; c < nf; ++c) out.columns.emplace_back(PQfname(res, c));
  out.rows.reserve(nt);
  for (int r = 0; r < nt; ++r) {
    SqlRow row;
    row.reserve(nf);
    for (int c = 0; c < nf; ++c) {
      if (PQgetisnull(res, r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
      }
    }
    out.rows.push_back(std::move(row));
  }
  const char* aff = PQcmdTuples(res);
  if (aff && *aff) out.affected = std::stoll(aff);
  return out;
}

class PostgresDatabase : public Database {
 public:
  explicit PostgresDatabase(PgConn conn) : conn_(std::move(conn)), cancel_(PQgetCancel(conn_.get())) {
    // Notices (e.g. "relation already exists, skipping") would go to stderr unscrubbed: drop them.
    PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
  }

  Result<QueryResult> Query(const std::string& sql, const std::vector<SqlValue>& params) override {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    ++g_round_trips;
    PgResult res(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorFrom(res.get(), conn_.get());
    return ToQueryResult(res.get());
  }

  Result<QueryResult> QueryAs(const std::string& app, const std::string& sql,
                              const std::vector<SqlValue>& params) override {
    if (PQpipelineStatus(conn_.get()) != PQ_PIPELINE_OFF || !PQenterPipelineMode(conn_.get())) {
      return Database::QueryAs(app, sql, params);
    }
    ++g_round_trips;
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    const char* name[] = {app.c_str()};
    bool sent = PQsendQueryParams(conn_.get(), "SELECT set_config('application_name', $1, false)", 1, nullptr, name,
                                  nullptr, nullptr, 0) &&
                PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                  nullptr, nullptr, 0) &&
                PQpipelineSync(conn_.get());
    // Results: set_config's, NULL, sql's, NULL, then the sync. Read them all (also after an error)
    // so the connection leaves pipeline mode idle.
    std::vector<PgResult> results;
    int ends = 0;
    while (sent) {
      PGresult* r = PQgetResult(conn_.get());
      if (!r) {
        if (++ends > 2 || PQstatus(conn_.get()) == CONNECTION_BAD) break;
        continue;
      }
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        break;
      }
      results.emplace_back(r);
    }
    (void)PQexitPipelineMode(conn_.get());
    if (!sent || results.empty()) return ErrorFrom(nullptr, conn_.get());
    ExecStatusType named = PQresultStatus(results[0].get());
    if (named != PGRES_TUPLES_OK) return ErrorFrom(results[0].get(), conn_.get());
    if (results.size() < 2) return ErrorFrom(nullptr, conn_.get());
    ExecStatusType st = PQresultStatus(results[1].get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorFrom(results[1].get(), conn_.get());
    return ToQueryResult(results[1].get());
  }

  Status ExecScript(const std::string& sql) override {
    ++g_round_trips;
    // PQexec returns only the last result; on error it stops at the failing statement.
    PgResult res(PQexec(conn_.get(), sql.c_str()));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return Status::Ok();
    return ErrorFrom(res.get(), conn_.get());
  }

  Status ExecBatch(const std::vector<std::string_view>& statements, int* failed) override {
    if (failed) *failed = -1;
    if (statements.empty()) return Status::Ok();
    std::string sql;
    size_t bytes = 0;
    for (auto st : statements) bytes += st.size() + 2;
    sql.reserve(bytes);
    // Where each statement starts, in characters (the server's error positions count characters).
    std::vector<long long> starts;
    starts.reserve(statements.size());
    long long chars = 0;
    for (size_t i = 0; i < statements.size(); ++i) {
      if (i > 0) {
        sql += ";\n";
        chars += 2;
      }
      starts.push_back(chars);
      sql.append(statements[i]);
      for (char c : statements[i]) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }
    ++g_round_trips;
    if (!PQsendQuery(conn_.get(), sql.c_str())) return ErrorFrom(nullptr, conn_.get());
    sql = std::string();  // libpq has its own copy in its output buffer now
    // Every result must be read (and the connection is idle again only after the last one).
    Status out;
    size_t index = 0;
    bool failed_seen = false;
    while (PGresult* raw = PQgetResult(conn_.get())) {
      PgResult res(raw);
      ExecStatusType st = PQresultStatus(raw);
      if (st == PGRES_COPY_IN) {
        (void)PQputCopyEnd(conn_.get(), "COPY FROM STDIN is not supported in a migration file");
        continue;  // the error result of this statement follows
      }
      if (st == PGRES_COPY_OUT) {
        char* buf = nullptr;
        while (PQgetCopyData(conn_.get(), &buf, 0) > 0) PQfreemem(buf);
        continue;  // the completion of this statement follows
      }
      bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
      if (!ok && !failed_seen) {
        failed_seen = true;
        // The server parses the whole string before running any of it, and counts error positions
        // from its start: a position says which statement failed (a syntax error in the third
        // statement fails before the first one ran); without one, the failing result does.
        size_t at = std::min(index, statements.size() - 1);
        if (const char* pos = PQresultErrorField(raw, PG_DIAG_STATEMENT_POSITION); pos && *pos) {
          long long p = std::atoll(pos);
          at = 0;
          for (size_t i = 0; i < starts.size(); ++i) {
            if (starts[i] < p) at = i;
          }
        }
        if (failed) *failed = static_cast<int>(at);
        out = ErrorFrom(raw, conn_.get(), starts[at]);
      }
      ++index;
    }
    if (!failed_seen && index < statements.size()) {
      // The connection went away before every statement answered.
      if (failed) *failed = static_cast<int>(index);
      out = ErrorFrom(nullptr, conn_.get());
    }
    return out;
  }

  int BackendPid() override { return PQbackendPID(conn_.get()); }

  Status Cancel() override {
    std::lock_guard<std::mutex> l(cancel_mu_);
    if (!cancel_) return Status::Failed("no cancel handle");
    char err[256] = {0};
    if (!PQcancel(cancel_.get(), err, sizeof err)) return Status::Failed(std::string("cancel failed: ") + err);
    return Status::Ok();
  }

  bool Healthy() override {
    if (PQstatus(conn_.get()) != CONNECTION_OK) return false;
    if (PQtransactionStatus(conn_.get()) == PQTRANS_ACTIVE) return true;  // a query runs: nothing to read now
    // Between statements the server sends nothing unless the session ends (FATAL 57P01 from
    // pg_terminate_backend or a shutdown, then EOF): something to read means reading it, which
    // marks the connection bad when it was closed.
    // The message and the EOF come in two reads: read while there is something, a few times.
    for (int i = 0; i < 4; ++i) {
      pollfd p{PQsocket(conn_.get()), POLLIN, 0};
      if (p.fd < 0) return false;
      if (poll(&p, 1, 0) <= 0) break;
      if (PQconsumeInput(conn_.get()) == 0) return false;
    }
    return PQstatus(conn_.get()) == CONNECTION_OK;
  }

  TxState TransactionState() override {
    switch (PQtransactionStatus(conn_.get())) {
      case PQTRANS_IDLE: return TxState::kIdle;
      case PQTRANS_ACTIVE: return TxState::kActive;
      case PQTRANS_INTRANS: return TxState::kInTransaction;
      case PQTRANS_INERROR: return TxState::kInError;
      default: return TxState::kUnknown;
    }
  }

 private:
  PgConn conn_;
  std::mutex cancel_mu_;
  PgCancel cancel_;
};

}  // namespace

std::string LibpqDsn(const std::string& dsn) {
  // Ory (pop) DSNs carry pool options libpq rejects ("invalid URI query parameter"): drop them.
  static const char* kPoolOptions[] = {"max_conns", "max_idle_conns", "max_conn_lifetime", "max_conn_idle_time"};
  auto q = dsn.find('?');
  if (q == std::string::npos || dsn.find("://") == std::string::npos) return dsn;
  std::string out = dsn.substr(0, q), sep = "?";
  std::string rest = dsn.substr(q + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t amp = rest.find('&', pos);
    std::string kv = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    std::string key = kv.substr(0, kv.find('='));
    bool drop = kv.empty();
    for (const char* k : kPoolOptions) drop = drop || key == k;
    if (!drop) {
      out += sep + kv;
      sep = "&";
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

Status ValidateDsn(const std::string& raw_dsn) {
  RegisterDsnSecrets(raw_dsn);
  const std::string dsn = LibpqDsn(raw_dsn);
  const std::string fix = " (value not shown; fix the DSN: a postgres:// URL with special characters %-encoded "
                          "and only libpq options after '?', or key=value pairs)";
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? Trim(err) : "cannot be parsed";
    if (err) PQfreemem(err);
    // libpq quotes the offending token: an option name is fine to show, a piece of a value (a
    // bad %-escape inside a password) is not.
    auto quote = msg.find('"');
    if (quote != std::string::npos && msg.find("option") == std::string::npos &&
        msg.find("parameter") == std::string::npos) {
      msg = Trim(msg.substr(0, quote));
      while (!msg.empty() && (msg.back() == ':' || msg.back() == ' ')) msg.pop_back();
    }
    return Status::Invalid("the PostgreSQL DSN is malformed: " + Scrub(msg) + fix);
  }
  std::string bad_port;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (std::string(o->keyword) != "port" || o->val == nullptr) continue;
    // A comma-separated list (one per host); each empty or 1..65535. libpq checks this only when
    // connecting, where it looks like an outage.
    std::string ports = o->val;
    size_t start = 0;
    while (start <= ports.size()) {
      size_t comma = ports.find(',', start);
      std::string p = ports.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      bool ok = p.size() <= 5;
      for (char c : p) ok = ok && c >= '0' && c <= '9';
      if (ok && !p.empty()) ok = std::stoi(p) >= 1 && std::stoi(p) <= 65535;
      if (!ok) bad_port = p;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  PQconninfoFree(opts);
  if (!bad_port.empty()) {
    return Status::Invalid("the PostgreSQL DSN is malformed: port \"" + Scrub(bad_port.substr(0, 16)) +
                           "\" is not a port number (1-65535)" + fix);
  }
  return Status::Ok();
}

long long PostgresRoundTrips() { return g_round_trips.load(); }

Result<std::unique_ptr<Database>> ConnectPostgres(const std::string& raw_dsn, const std::string& application_name,
                                                  std::chrono::seconds connect_timeout) {
  RegisterDsnSecrets(raw_dsn);
  SU_RETURN_IF_ERROR(ValidateDsn(raw_dsn));
  std::string dsn = LibpqDsn(raw_dsn);
  const char* keys[] = {"dbname", "application_name", "connect_timeout", nullptr};
  std::string timeout = std::to_string(connect_timeout.count());
  const char* vals[] = {dsn.c_str(), application_name.c_str(), timeout.c_str(), nullptr};
  // expand_dbname=1: the dsn (URL or keyword string) is expanded; later keys override it.
  PgConn conn(PQconnectdbParams(keys, vals, 1));
  if (!conn) return Status::Error(Code::kUnavailable, "cannot allocate a libpq connection");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string msg = Scrub(Trim(PQerrorMessage(conn.get())));
    // Option values libpq checks only now ("invalid sslmode value", "invalid integer value ...
    // for connection option ..."): bad input, not an outage to retry.
    if (msg.rfind("invalid ", 0) == 0) {
      return Status::Invalid("the PostgreSQL DSN is malformed: " + msg + " (fix the DSN)");
    }
    return Status::Error(Code::kUnavailable,
                         "cannot connect to PostgreSQL: " + msg +
                             " (check the DSN source, that the server runs and accepts this user)");
  }
  return std::unique_ptr<Database>(new PostgresDatabase(std::move(conn)));
}

std::string QuoteIdent(const std::string& ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(const std::string& value) {
  bool backslash = value.find('\\') != std::string::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string QuoteQualified(const std::string& name) {
  auto dot = name.find('.');
  if (dot == std::string::npos) return QuoteIdent(name);
  return QuoteIdent(name.substr(0, dot)) + "." + QuoteIdent(name.substr(dot + 1));
}

Result<Transaction> Transaction::Begin(Database* db) {
  SU_RETURN_IF_ERROR(db->Exec("BEGIN"));
  return Transaction(db);
}

Transaction::~Transaction() {
  if (!done_) (void)db_->ExecScript("ROLLBACK");
}

Status Transaction::Commit() {
  done_ = true;
  return db_->ExecScript("COMMIT");
}

Status Transaction::Rollback() {
  done_ = true;
  return db_->ExecScript("ROLLBACK");
}

}  // namespace su
