// schema_upgrade_log table access (see audit_log.h).
#include "reconcilers/database/audit_log.h"

#include <algorithm>

#include <pwd.h>
#include <unistd.h>

#include "reconcilers/base/text_check.h"

namespace su {

std::string CurrentActor() {
  std::string user = "unknown";
  if (passwd* pw = getpwuid(geteuid())) user = pw->pw_name;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return user + "@" + host;
}

std::string AuditLog::Table() const { return QuoteIdent(schema_) + "." + QuoteIdent("schema_upgrade_log"); }

Status AuditLog::Ensure() {
  // Fast path for every run after the first: one round trip, no transaction, no catalog locks.
  auto exists = db_->Query("SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND "
                           "to_regclass($3) IS NOT NULL",
                           {Table(), QuoteIdent(schema_) + "." + QuoteIdent("schema_upgrade_log_resource_idx"),
                            QuoteIdent(schema_) + "." + QuoteIdent("schema_upgrade_log_running_idx")});
  if (exists.ok() && !exists->rows.empty() && exists->Get(0, 0) == "t") return Status::Ok();
  // CREATE TABLE IF NOT EXISTS races on the catalog under concurrent first runs (unique
  // violation on pg_type); a transaction-scoped advisory lock serialises the creators.
  auto tx = Transaction::Begin(db_);
  if (!tx.ok()) return tx.status();
  SU_RETURN_IF_ERROR(db_->Exec("SELECT pg_advisory_xact_lock(7263510001)"));
  SU_RETURN_IF_ERROR(db_->ExecScript(CreateSql()));
  return tx->Commit();
}

std::string AuditLog::CreateSql() const {
  return "CREATE TABLE IF NOT EXISTS " + Table() +
         " (id bigserial PRIMARY KEY, resource text NOT NULL, engine text NOT NULL, version text NOT NULL "
         "DEFAULT '', name text NOT NULL DEFAULT '', direction text NOT NULL, checksum text NOT NULL DEFAULT '', "
         "status text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz, "
         "duration_ms bigint NOT NULL DEFAULT 0, statements_applied int NOT NULL DEFAULT 0, "
         "statements_total int NOT NULL DEFAULT 0, error text NOT NULL DEFAULT '', failing_statement text NOT "
         "NULL DEFAULT '', actor text NOT NULL DEFAULT '', detail text NOT NULL DEFAULT '', backend_pid int);\n"
         "CREATE INDEX IF NOT EXISTS " + QuoteIdent("schema_upgrade_log_resource_idx") + " ON " + Table() +
         " (resource, id);\n"
         // MarkInterrupted runs at the start of every run, also a no-op one: without this (nearly
         // always empty) index it scans the whole log, one row per migration ever applied.
         "CREATE INDEX IF NOT EXISTS " + QuoteIdent("schema_upgrade_log_running_idx") + " ON " + Table() +
         " (id) WHERE status = 'running';\n";
}

Result<long long> AuditLog::Begin(const AuditEntry& e) {
  auto r = db_->Query("INSERT INTO " + Table() +
                          " (resource, engine, version, name, direction, checksum, status, statements_total, actor, "
                          "detail, backend_pid) VALUES ($1,$2,$3,$4,$5,$6,'running',$7,$8,$9,pg_backend_pid()) "
                          "RETURNING id",
                      {e.resource, e.engine, e.version, e.name, e.direction, e.checksum,
                       std::to_string(e.statements_total), e.actor.empty() ? CurrentActor() : e.actor,
                       ValidUtf8(e.detail)});
  if (!r.ok()) return r.status().WithContext("writing the audit log");
  return std::stoll(r->Get(0, 0));
}

Status AuditLog::Finish(long long id, const std::string& status, int statements_applied, const std::string& error,
                        const std::string& failing_statement) {
  return db_
      ->Exec("UPDATE " + Table() +
                 " SET status = $2, finished_at = clock_timestamp(), duration_ms = (extract(epoch FROM "
                 "clock_timestamp() - started_at) * 1000)::bigint, statements_applied = $3, error = $4, "
                 "failing_statement = $5 WHERE id = $1",
             // Messages may quote bytes of a bad file: a text column takes only valid UTF-8, and a
             // refused UPDATE would leave the row `running`.
             {std::to_string(id), status, std::to_string(statements_applied), ValidUtf8(error),
              ValidUtf8(failing_statement)})
      .WithContext("writing the audit log");
}

std::string AuditLog::FinishSql(long long id, const std::string& status, int statements_applied) const {
  return "UPDATE " + Table() + " SET status = " + QuoteLiteral(status) +
         ", finished_at = clock_timestamp(), duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * "
         "1000)::bigint, statements_applied = " + std::to_string(statements_applied) +
         ", error = '', failing_statement = '' WHERE id = " + std::to_string(id);
}

std::string AuditLog::SucceededSql(const AuditEntry& e, std::optional<long long> duration_ms) const {
  const std::string started =
      duration_ms ? "clock_timestamp() - interval '" + std::to_string(*duration_ms) + " milliseconds'" : "now()";
  const std::string duration = duration_ms ? std::to_string(*duration_ms)
                                           : "(extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint";
  return "INSERT INTO " + Table() +
         " (resource, engine, version, name, direction, checksum, status, started_at, finished_at, duration_ms, "
         "statements_applied, statements_total, actor, detail, backend_pid) VALUES (" +
         QuoteLiteral(ValidUtf8(e.resource)) + ", " + QuoteLiteral(e.engine) + ", " + QuoteLiteral(ValidUtf8(e.version)) +
         ", " + QuoteLiteral(ValidUtf8(e.name)) + ", " + QuoteLiteral(e.direction) + ", " + QuoteLiteral(e.checksum) +
         ", 'succeeded', " + started + ", clock_timestamp(), " + duration + ", " + std::to_string(e.statements_total) +
         ", " + std::to_string(e.statements_total) + ", " +
         QuoteLiteral(ValidUtf8(e.actor.empty() ? CurrentActor() : e.actor)) + ", " + QuoteLiteral(ValidUtf8(e.detail)) +
         ", pg_backend_pid())";
}

Status AuditLog::Record(const AuditEntry& e) {
  return db_
      ->Exec("INSERT INTO " + Table() +
                 " (resource, engine, version, name, direction, checksum, status, started_at, finished_at, duration_ms, "
                 "statements_applied, statements_total, error, failing_statement, actor, detail) VALUES "
                 "($1,$2,$3,$4,$5,$6,$7,now() - make_interval(secs => $8::bigint / 1000.0),now(),$8,$9,$10,$11,$12,$13,$14)",
             {e.resource, e.engine, e.version, e.name, e.direction, e.checksum, e.status.empty() ? "succeeded" : e.status,
              std::to_string(e.duration_ms), std::to_string(e.statements_applied), std::to_string(e.statements_total),
              ValidUtf8(e.error), ValidUtf8(e.failing_statement), e.actor.empty() ? CurrentActor() : e.actor,
              ValidUtf8(e.detail)})
      .WithContext("writing the audit log");
}

std::string AuditLog::MarkInterruptedSql() const {
  return "UPDATE " + Table() +
         " SET status = 'interrupted', finished_at = now(), error = 'the process running this step stopped "
         "before recording its end (killed or crashed); the migration history table says whether it applied' "
         "WHERE status = 'running' AND (backend_pid IS NULL OR backend_pid NOT IN (SELECT pid FROM "
         "pg_stat_activity))";
}

Status AuditLog::MarkInterrupted() {
  // One round trip: the table exists on every run after the first; a missing one (42P01) has
  // nothing to mark.
  Status s = db_->Exec(MarkInterruptedSql());
  if (!s.ok() && s.sqlstate() == "42P01") return Status::Ok();
  return s.WithContext("marking interrupted audit rows");
}

Status AuditLog::MarkUpgradeStart(const std::string& resource, const std::string& detail) {
  AuditEntry e;
  e.resource = resource;
  e.engine = "controller";
  e.direction = "upgrade-start";
  e.status = "succeeded";
  e.detail = detail;
  return Record(e);
}

Result<std::vector<std::string>> AuditLog::UpgradeApplied(const std::string& resource) {
  auto exists = db_->Query("SELECT to_regclass($1) IS NOT NULL", {Table()});
  if (!exists.ok()) return exists.status().WithContext("reading the audit log");
  if (exists->rows.empty() || exists->Get(0, 0) != "t") {
    return Status::Error(Code::kNotFound, "no audit log in this database");
  }
  auto start = db_->Query("SELECT max(id) FROM " + Table() + " WHERE resource = $1 AND direction = 'upgrade-start'",
                          {resource});
  if (!start.ok()) return start.status().WithContext("reading the audit log");
  if (start->rows.empty() || start->Get(0, 0).empty()) {
    return Status::Error(Code::kNotFound, "the audit log has no start of an upgrade of " + resource);
  }
  // A restore keeps the audit log (restore.h) but puts the schema back to before the upgrade:
  // what was applied before it is applied no more.
  auto r = db_->Query("SELECT direction, version FROM " + Table() +
                          " WHERE resource = $1 AND id > $2 AND status = 'succeeded' AND ((direction IN ('up', 'down') "
                          "AND version <> '') OR direction = 'restore') ORDER BY id",
                      {resource, start->Get(0, 0)});
  if (!r.ok()) return r.status().WithContext("reading the audit log");
  std::vector<std::string> out;
  for (size_t i = 0; i < r->rows.size(); ++i) {
    const std::string dir = r->Get(i, 0), v = r->Get(i, 1);
    if (dir == "restore") out.clear();
    auto it = std::find(out.begin(), out.end(), v);
    if (dir == "up" && it == out.end()) out.push_back(v);
    if (dir == "down" && it != out.end()) out.erase(it);
  }
  return out;
}

Result<long long> AuditLog::LastId(const std::string& resource) {
  auto r = db_->Query("SELECT coalesce(max(id), 0) FROM " + Table() + " WHERE resource = $1", {resource});
  if (!r.ok() && r.status().sqlstate() == "42P01") return 0LL;  // no table: no rows
  if (!r.ok()) return r.status().WithContext("reading the audit log");
  if (r->rows.empty() || r->Get(0, 0).empty()) return 0LL;
  return std::stoll(r->Get(0, 0));
}

Result<std::vector<AuditEntry>> AuditLog::Since(const std::string& resource, long long after_id) {
  std::vector<AuditEntry> out;
  auto r = db_->Query("SELECT id, direction, status, version, detail FROM " + Table() +
                          " WHERE resource = $1 AND id > $2 ORDER BY id",
                      {resource, std::to_string(after_id)});
  if (!r.ok() && r.status().sqlstate() == "42P01") return out;
  if (!r.ok()) return r.status().WithContext("reading the audit log");
  for (size_t i = 0; i < r->rows.size(); ++i) {
    AuditEntry e;
    e.id = std::stoll(r->Get(i, 0, "0"));
    e.resource = resource;
    e.direction = r->Get(i, 1);
    e.status = r->Get(i, 2);
    e.version = r->Get(i, 3);
    e.detail = r->Get(i, 4);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<AuditEntry>> AuditLog::List(int limit, const std::string& resource) {
  auto exists = db_->Query("SELECT to_regclass($1) IS NOT NULL", {Table()});
  if (!exists.ok()) return exists.status();
  std::vector<AuditEntry> out;
  if (exists->rows.empty() || exists->Get(0, 0) != "t") return out;
  auto r = db_->Query(
      "SELECT id, resource, engine, version, name, direction, checksum, status, "
      "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "coalesce(to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), duration_ms, "
      "statements_applied, statements_total, error, failing_statement, actor, detail FROM " +
          Table() + " WHERE ($2 = '' OR resource = $2) ORDER BY id DESC LIMIT $1",
      {std::to_string(limit), resource});
  if (!r.ok()) return r.status().WithContext("reading the audit log");
  for (size_t i = 0; i < r->rows.size(); ++i) {
    AuditEntry e;
    e.id = std::stoll(r->Get(i, 0));
    e.resource = r->Get(i, 1);
    e.engine = r->Get(i, 2);
    e.version = r->Get(i, 3);
    e.name = r->Get(i, 4);
    e.direction = r->Get(i, 5);
    e.checksum = r->Get(i, 6);
    e.status = r->Get(i, 7);
    e.started_at = r->Get(i, 8);
    e.finished_at = r->Get(i, 9);
    e.duration_ms = std::stoll(r->Get(i, 10, "0"));
    e.statements_applied = std::stoi(r->Get(i, 11, "0"));
    e.statements_total = std::stoi(r->Get(i, 12, "0"));
    e.error = r->Get(i, 13);
    e.failing_statement = r->Get(i, 14);
    e.actor = r->Get(i, 15);
    e.detail = r->Get(i, 16);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace su
