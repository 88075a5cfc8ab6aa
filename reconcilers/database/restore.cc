// pg_restore + psql restore (see restore.h).
#include "reconcilers/database/restore.h"

#include <cctype>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"
#include "reconcilers/database/backup.h"

namespace su {
namespace {

constexpr const char* kUserSchemas = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'";

// Every user table, locked in one order before anything changes: the restore then either holds
// the whole database or gave up after lock_timeout on one lock, having changed nothing.
std::string LockAll() {
  return std::string(R"SQL(
DO $su_lock$ DECLARE r record; BEGIN
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND )SQL") + kUserSchemas + R"SQL(
           ORDER BY c.oid LOOP
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', r.t);
  END LOOP;
END $su_lock$;
)SQL";
}

// Counts row versions written since the snapshot by transactions other than the tool's (see
// restore.h); reports them in a WARNING and refuses (an ERROR) unless data loss is allowed.
// xmin is a 32-bit xid: it is widened to the epoch of the next xid to compare with the snapshot.
std::string CheckWrites(const std::string& snapshot, bool allow) {
  return std::string(R"SQL(
DO $su_check$ DECLARE
  snap pg_snapshot := ')SQL") + snapshot + R"SQL(';
  nx numeric := pg_snapshot_xmax(pg_current_snapshot())::text::numeric;
  ours bigint[] := '{}';
  xs bigint[];
  r record; n bigint; total bigint := 0; detail text := '';
BEGIN
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND )SQL" + kUserSchemas + R"SQL(
             AND c.relname IN ('schema_migration', 'schema_upgrade_checksum', '__drizzle_migrations', 'schema_upgrade_log') LOOP
    EXECUTE format('SELECT array_agg(DISTINCT xmin::text::bigint) FROM %s', r.t) INTO xs;
    ours := ours || coalesce(xs, '{}');
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS t, format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND )SQL" + kUserSchemas + R"SQL(
             AND c.relname NOT IN ('schema_migration', 'schema_upgrade_checksum', '__drizzle_migrations', 'schema_upgrade_log')
           ORDER BY c.oid LOOP
    EXECUTE format('SELECT count(*) FROM ONLY %s WHERE xmin::text::bigint <> ALL($3) AND NOT pg_visible_in_snapshot('
                   'greatest($1 - mod(mod($1, 4294967296) - xmin::text::numeric + 4294967296, 4294967296), 0)::text::xid8, $2)',
                   r.t) INTO n USING nx, snap, ours;
    IF n > 0 THEN
      total := total + n;
      detail := detail || CASE WHEN detail = '' THEN '' ELSE '; ' END || r.name || ': ' || n;
    END IF;
  END LOOP;
  RAISE WARNING 'schema-upgrade-writes-since-backup=% %', total, detail;
  IF total > 0 AND NOT )SQL" + (allow ? "true" : "false") + R"SQL( THEN
    RAISE EXCEPTION 'schema-upgrade-restore-refused';
  END IF;
END $su_check$;
)SQL";
}

// The last value every sequence has handed out, kept in a temporary table for after the replay.
constexpr const char* kKeepSequences = R"SQL(
CREATE TEMPORARY TABLE su_restore_sequences ON COMMIT DROP AS
  SELECT schemaname, sequencename, last_value FROM pg_catalog.pg_sequences WHERE last_value IS NOT NULL;
)SQL";

// The tool's audit tables (AuditLog, any schema) are set aside before the wipe, each into a holding
// schema of its own that the wipe skips, with its sequence and index: the audit trail is not part
// of what a restore puts back (restore.h).
constexpr const char* kKeepAudit = R"SQL(
CREATE TEMPORARY TABLE su_restore_audit (ord int, nsp text, keep text) ON COMMIT DROP;
DO $su_keep$ DECLARE s text; i int := 0; k text; BEGIN
  FOR s IN SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relname = 'schema_upgrade_log' AND c.relkind = 'r'
             AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
           ORDER BY n.nspname LOOP
    i := i + 1;
    k := format('su_restore_keep_%s_%s', pg_current_xact_id(), i);
    EXECUTE format('CREATE SCHEMA %I', k);
    EXECUTE format('ALTER TABLE %I.schema_upgrade_log SET SCHEMA %I', s, k);
    INSERT INTO pg_temp.su_restore_audit VALUES (i, s, k);
  END LOOP;
END $su_keep$;
)SQL";

// After the replay and the sequences: the live audit rows are what each audit table holds. When
// the dump has the table, its rows are replaced by the live ones (ids kept; columns both have),
// so whatever the dump made depend on it stays valid; else the live table goes back as it is.
// Its id sequence was raised to the live value by kNoRewind (same name), or moved with the table.
constexpr const char* kPutAuditBack = R"SQL(
DO $su_audit$ DECLARE r record; t regclass; cols text; BEGIN
  FOR r IN SELECT nsp, keep FROM pg_temp.su_restore_audit ORDER BY ord LOOP
    t := pg_catalog.to_regclass(pg_catalog.format('%I.schema_upgrade_log', r.nsp));
    IF t IS NULL THEN
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = r.nsp) THEN
        EXECUTE pg_catalog.format('CREATE SCHEMA %I', r.nsp);
      END IF;
      EXECUTE pg_catalog.format('ALTER TABLE %I.schema_upgrade_log SET SCHEMA %I', r.keep, r.nsp);
    ELSE
      SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
         AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute k
                      WHERE k.attrelid = pg_catalog.format('%I.schema_upgrade_log', r.keep)::pg_catalog.regclass
                        AND k.attname = a.attname AND k.attnum > 0 AND NOT k.attisdropped);
      EXECUTE pg_catalog.format('DELETE FROM %s', t);
      EXECUTE pg_catalog.format('INSERT INTO %s (%s) SELECT %s FROM %I.schema_upgrade_log ORDER BY id', t, cols, cols,
                                r.keep);
    END IF;
    EXECUTE pg_catalog.format('DROP SCHEMA %I CASCADE', r.keep);
  END LOOP;
END $su_audit$;
)SQL";

// `pg_restore --clean` drops only what the dump contains: tables the failed upgrade created would
// survive, and a foreign key from one of them makes the restore fail. So every user schema is
// dropped (CASCADE), `public` recreated as PostgreSQL 15 creates it, and the database-wide objects
// a dump recreates are removed too: large objects (else "duplicate key" on
// pg_largeobject_metadata) and publications (one created by the failed upgrade would survive).
constexpr const char* kWipe = R"SQL(
DO $wipe$ DECLARE s text; BEGIN
  FOR s IN SELECT nspname FROM pg_namespace
           WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
             AND nspname NOT IN (SELECT keep FROM pg_temp.su_restore_audit) LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
  END LOOP;
  FOR s IN SELECT pubname FROM pg_publication LOOP
    EXECUTE format('DROP PUBLICATION %I', s);
  END LOOP;
  PERFORM pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;
END $wipe$;
CREATE SCHEMA public;
ALTER SCHEMA public OWNER TO pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
COMMENT ON SCHEMA public IS 'standard public schema';
)SQL";

// After the replay (whose search_path is empty): no sequence goes below what it had issued.
constexpr const char* kNoRewind = R"SQL(
SELECT pg_catalog.setval(pg_catalog.format('%I.%I', s.schemaname, s.sequencename), s.last_value, true)
  FROM pg_temp.su_restore_sequences s
  JOIN pg_catalog.pg_sequences p ON p.schemaname = s.schemaname AND p.sequencename = s.sequencename
 WHERE p.last_value IS NULL
    OR (p.increment_by > 0 AND p.last_value < s.last_value)
    OR (p.increment_by < 0 AND p.last_value > s.last_value);
)SQL";

// "schema-upgrade-writes-since-backup=<n> <detail>" from psql's stderr.
void ParseWrites(const std::string& err, RestoreReport* report) {
  const std::string key = "schema-upgrade-writes-since-backup=";
  size_t at = err.find(key);
  if (at == std::string::npos) return;
  at += key.size();
  size_t end = err.find('\n', at);
  std::string line = err.substr(at, end == std::string::npos ? std::string::npos : end - at);
  size_t sp = line.find(' ');
  try {
    report->writes_since = std::stoll(line.substr(0, sp));
  } catch (...) {
    return;
  }
  report->writes_detail = sp == std::string::npos ? "" : line.substr(sp + 1);
}

}  // namespace

Status CheckSnapshotText(const std::string& snapshot) {
  // xmin:xmax:xip1,xip2,...
  int colons = 0;
  for (char c : snapshot) {
    if (c == ':') ++colons;
    else if (!std::isdigit(static_cast<unsigned char>(c)) && c != ',') colons = 99;
  }
  if (colons != 2) return Status::Invalid("status.backup.snapshot " + snapshot + " is not a PostgreSQL snapshot");
  return Status::Ok();
}

Result<std::string> RestoreScript(ProcessRunner* runner, const std::string& dsn, const std::string& path,
                                  const RestoreOptions& options, const std::string& bin_dir) {
  SU_ASSIGN_OR_RETURN(auto env, DsnToPgEnv(dsn));
  if (!options.backup_snapshot.empty()) SU_RETURN_IF_ERROR(CheckSnapshotText(options.backup_snapshot));
  ProcessSpec dump;
  // Owners and privileges are restored as dumped: never --no-owner (objects owned by the
  // application's role would come back owned by the restoring role, and the service locked out).
  // --single-transaction: without it pg_restore wraps large objects in their own BEGIN/COMMIT,
  // whose COMMIT would end the restore's one transaction half way. Its own outer BEGIN/COMMIT are
  // taken out below: the restore's transaction starts before (locks, checks) and ends after
  // (sequences, the audit tables, the restore's row).
  dump.argv = {PgTool(bin_dir, "pg_restore"), "--single-transaction", "-f", "-", path};
  dump.env = env;
  auto script = runner->Run(dump);
  if (!script.ok()) return script.status().WithContext("running pg_restore");
  if (!script->Succeeded()) {
    return Status::Failed("pg_restore could not read " + path + " (exit " + std::to_string(script->exit_code) +
                          "), nothing was restored: " + Scrub(script->Tail(10)));
  }
  std::string& body = script->out;
  size_t begin = body.find("\nBEGIN;\n");
  size_t commit = body.rfind("\nCOMMIT;\n");
  if (begin == std::string::npos || commit == std::string::npos || commit < begin) {
    return Status::Failed("pg_restore's script of " + path + " has no BEGIN/COMMIT pair; nothing was restored");
  }
  body.replace(commit, 9, "\n-- COMMIT; (the restore's transaction goes on)\n");
  body.replace(begin, 8, "\n-- BEGIN; (inside the restore's transaction)\n");
  std::string sql = "BEGIN;\nSET LOCAL lock_timeout = '" + std::to_string(options.lock_timeout.count()) + "ms';\n";
  sql += LockAll();
  if (!options.backup_snapshot.empty()) sql += CheckWrites(options.backup_snapshot, options.allow_data_loss);
  sql += kKeepSequences;
  sql += kKeepAudit;
  sql += kWipe;
  sql += "-- schema-upgrade: the replay of the dump\n";
  sql += body;
  sql += kNoRewind;
  sql += kPutAuditBack;
  if (options.audit_row) {
    // pg_restore's script leaves search_path empty: every name below is qualified.
    AuditLog log(nullptr, "public");
    sql += log.CreateSql();
    sql += log.SucceededSql(*options.audit_row, std::nullopt) + ";\n";
  }
  // The one COMMIT: psql reaching the end of a script cut short leaves the transaction open, and
  // the server rolls it back when psql disconnects.
  sql += "COMMIT;\n";
  return sql;
}

Result<ProcessResult> RunRestoreScript(ProcessRunner* runner, const std::string& dsn, std::string script,
                                       const RestoreOptions& options, const std::string& bin_dir) {
  SU_ASSIGN_OR_RETURN(auto env, DsnToPgEnv(dsn));
  ProcessSpec psql;
  // No --single-transaction: the script is one explicit transaction (see RestoreScript).
  psql.argv = {PgTool(bin_dir, "psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null",
               "-f", "-"};
  psql.env = env;
  if (!options.application_name.empty()) psql.env["PGAPPNAME"] = options.application_name;
  psql.stdin_data = std::move(script);
  return runner->Run(psql);
}

Result<RestoreReport> PgRestore(ProcessRunner* runner, const std::string& dsn, const std::string& path,
                                const RestoreOptions& options, const std::string& bin_dir) {
  SU_ASSIGN_OR_RETURN(std::string sql, RestoreScript(runner, dsn, path, options, bin_dir));
  auto r = RunRestoreScript(runner, dsn, std::move(sql), options, bin_dir);
  if (!r.ok()) return r.status().WithContext("running psql to restore");
  RestoreReport report;
  ParseWrites(r->err, &report);
  if (!r->Succeeded()) {
    std::string tail = Scrub(r->Tail(10));
    if (r->err.find("schema-upgrade-restore-refused") != std::string::npos) {
      LogWarn("restore.refused", {{"path", path}, {"writes_since_backup", std::to_string(report.writes_since)}});
      return report;  // restored == false: nothing changed
    }
    if (r->err.find("lock timeout") != std::string::npos) {
      return Status::Error(Code::kLockTimeout, "restoring " + path + ": a lock was not granted within lock_timeout (" +
                                                   std::to_string(options.lock_timeout.count()) +
                                                   " ms), nothing was restored: " + tail);
    }
    if (r->err.find("canceling statement due to user request") != std::string::npos) {
      return Status::Error(Code::kCancelled, "restoring " + path + " was cancelled, nothing was restored: " + tail);
    }
    std::string hint;
    if (r->err.find("must be member of role") != std::string::npos ||
        r->err.find("must be owner") != std::string::npos) {
      hint = "; the restore gives every object back to its owner: run it with a role that is a superuser or a "
             "member of the owning roles";
    }
    return Status::Failed("restoring " + path + " failed (exit " + std::to_string(r->exit_code) +
                          "), nothing was restored (one transaction): " + tail + hint);
  }
  report.restored = true;
  report.audit_recorded = options.audit_row.has_value();
  LogInfo("restore.done", {{"path", path}, {"writes_since_backup", std::to_string(report.writes_since)}});
  return report;
}

}  // namespace su
