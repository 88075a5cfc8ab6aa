// Statement timing and pg_locks sampling for rehearsals (see recorder.h).
#include "reconcilers/rehearsal/recorder.h"

#include <algorithm>
#include <cctype>

#include "reconcilers/base/log.h"
#include "reconcilers/sqltext/statement.h"

namespace su {

namespace {

// Statements whose command tag carries a row count (DDL's does not: its rows stay "unknown").
bool TouchesRows(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
  std::string word;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i++])));
  }
  return word == "INSERT" || word == "UPDATE" || word == "DELETE" || word == "MERGE" || word == "WITH" ||
         word == "SELECT" || word == "COPY";
}

}  // namespace

void AttachLocks(Database* monitor, const std::vector<std::vector<LockSpan>>& spans,
                 std::vector<RehearsedMigration>* migrations, const std::set<std::string>& skip_oids) {
  std::set<std::string> oids;
  for (const auto& per : spans) {
    for (const auto& s : per) oids.insert(s.oid);
  }
  struct Rel {
    std::string name;
    bool system = false, table = false;
    long long rows = 0, bytes = 0;
  };
  std::map<std::string, Rel> rels;
  if (!oids.empty() && monitor) {
    std::string arr = "{";
    for (const auto& o : oids) arr += (arr.size() > 1 ? "," : "") + o;
    arr += "}";
    auto r = monitor->Query(
        "SELECT c.oid::text, n.nspname, c.relname, c.relkind::text, c.reltuples::bigint, pg_total_relation_size(c.oid) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[])",
        {arr});
    if (r.ok()) {
      for (size_t i = 0; i < r->rows.size(); ++i) {
        Rel rel;
        const std::string ns = r->Get(i, 1);
        rel.name = ns + "." + r->Get(i, 2);
        rel.system = ns == "pg_catalog" || ns == "information_schema" || ns == "pg_toast" || r->Get(i, 3) == "i";
        rel.table = r->Get(i, 3) == "r" || r->Get(i, 3) == "p" || r->Get(i, 3) == "m";
        rel.rows = std::stoll(r->Get(i, 4, "0"));
        rel.bytes = std::stoll(r->Get(i, 5, "0"));
        rels[r->Get(i, 0)] = rel;
      }
    } else {
      LogWarn("rehearsal_table_sizes_failed", {{"error", r.status().message()}});
    }
  }
  for (size_t k = 0; k < spans.size() && k < migrations->size(); ++k) {
    std::set<std::string> tables;
    RehearsedMigration& m = (*migrations)[k];
    for (const auto& s : spans[k]) {
      if (skip_oids.count(s.oid)) continue;
      auto it = rels.find(s.oid);
      if (it != rels.end() && it->second.system) continue;
      RehearsedLock lock;
      lock.relation = it != rels.end() ? it->second.name : "(dropped or rolled back, oid " + s.oid + ")";
      lock.mode = s.mode;
      lock.statement = s.statement;
      lock.held_ms = std::max<long long>(0, s.end_ms - s.start_ms);
      lock.waited = s.waited;
      m.locks.push_back(std::move(lock));
      if (it != rels.end() && it->second.table && tables.insert(s.oid).second) {
        m.tables.push_back({it->second.name, it->second.rows, it->second.bytes});
      }
    }
  }
}

RehearsalRecorder::RehearsalRecorder(Database* inner, std::unique_ptr<Database> monitor,
                                     std::chrono::milliseconds interval)
    : inner_(inner), pid_(inner->BackendPid()), interval_(interval), monitor_(std::move(monitor)) {
  sampler_ = std::thread([this] { Loop(); });
}

RehearsalRecorder::~RehearsalRecorder() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

long long RehearsalRecorder::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0_).count();
}

void RehearsalRecorder::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    if (cur_) SampleLocked();
    cv_.wait_for(l, interval_, [this] { return stop_; });
  }
}

void RehearsalRecorder::Sample() {
  std::lock_guard<std::mutex> l(mu_);
  SampleLocked();
}

void RehearsalRecorder::SampleLocked() {
  if (!cur_ || !monitor_) return;
  auto r = monitor_->Query(
      "SELECT l.relation::text, l.mode, l.granted FROM pg_locks l WHERE l.pid = $1 AND l.locktype = 'relation' "
      "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      {std::to_string(pid_)});
  if (!r.ok()) {
    LogWarn("rehearsal_lock_sample_failed", {{"error", r.status().message()}});
    return;
  }
  const long long now = NowMs();
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < r->rows.size(); ++i) {
    auto key = std::make_pair(r->Get(i, 0), r->Get(i, 1));
    const bool granted = r->Get(i, 2) == "t";
    seen.insert(key);
    if (cur_->engine_keys.count(key)) continue;
    auto it = cur_->open.find(key);
    if (it != cur_->open.end()) {
      cur_->spans[it->second].waited |= !granted;
      continue;
    }
    if (current_statement_ == 0) {
      cur_->engine_keys.insert(key);  // the engine's own (history table, BEGIN ... SET)
      continue;
    }
    Span s;
    s.oid = key.first;
    s.mode = key.second;
    s.statement = current_statement_;
    s.start_ms = statement_start_ms_;
    s.waited = !granted;
    cur_->open.emplace(key, cur_->spans.size());
    cur_->spans.push_back(std::move(s));
  }
  for (auto it = cur_->open.begin(); it != cur_->open.end();) {
    if (!seen.count(it->first)) {
      cur_->spans[it->second].end_ms = now;
      it = cur_->open.erase(it);
    } else {
      ++it;
    }
  }
}

void RehearsalRecorder::CloseMigrationLocked() {
  if (!cur_) return;
  SampleLocked();  // after COMMIT: what it held is released now
  const long long now = NowMs();
  for (auto& s : cur_->spans) {
    if (s.end_ms < 0) s.end_ms = now;
  }
  cur_->m.duration_ms = now - cur_->start_ms;
  done_.push_back(std::move(cur_->m));
  done_spans_.push_back(std::move(cur_->spans));
  cur_.reset();
}

void RehearsalRecorder::BeginMigration(const std::string& version, const std::string& name,
                                       const StatementList& statements) {
  std::lock_guard<std::mutex> l(mu_);
  if (cur_ && cur_->m.version == version) return;  // a retry of the same migration
  CloseMigrationLocked();
  cur_ = std::make_unique<Open>();
  cur_->m.version = version;
  cur_->m.name = name;
  cur_->m.ok = true;
  cur_->statements = statements;
  cur_->start_ms = NowMs();
  cv_.notify_all();
}

void RehearsalRecorder::EndMigration(const std::string& version) {
  std::lock_guard<std::mutex> l(mu_);
  if (cur_ && cur_->m.version == version) CloseMigrationLocked();
}

int RehearsalRecorder::StatementIndex(std::string_view text) {
  std::lock_guard<std::mutex> l(mu_);
  if (!cur_) return 0;
  const StatementList& st = cur_->statements;
  // The next occurrence after the last one run (a file may repeat a statement), else any.
  for (size_t i = cur_->last_index; i < st.size(); ++i) {
    if (st[i] == text) return cur_->last_index = static_cast<int>(i) + 1;
  }
  for (size_t i = 0; i < st.size(); ++i) {
    if (st[i] == text) return static_cast<int>(i) + 1;
  }
  return 0;
}

Status RehearsalRecorder::RunStatement(std::string_view text, int index) {
  {
    std::lock_guard<std::mutex> l(mu_);
    current_statement_ = index;
    statement_start_ms_ = NowMs();
  }
  const long long start = NowMs();
  auto r = inner_->Query(std::string(text));
  RehearsedStatement st;
  st.index = index;
  st.summary = SummarizeStatement(text);
  st.duration_ms = NowMs() - start;
  if (r.ok() && TouchesRows(text)) {
    st.rows = r->affected > 0 || r->rows.empty() ? r->affected : static_cast<long long>(r->rows.size());
  } else if (!r.ok()) {
    st.error = r.status().message();
  }
  std::lock_guard<std::mutex> l(mu_);
  SampleLocked();  // still attributed to this statement: it holds its locks to COMMIT
  current_statement_ = 0;
  if (cur_) {
    if (!r.ok()) {
      cur_->m.ok = false;
      cur_->m.error = st.error;
    }
    cur_->m.statements.push_back(std::move(st));
  }
  return r.ok() ? Status::Ok() : r.status();
}

Result<QueryResult> RehearsalRecorder::Query(const std::string& sql, const std::vector<SqlValue>& params) {
  if (params.empty()) {
    if (int i = StatementIndex(sql); i > 0) {
      Status s = RunStatement(sql, i);
      if (!s.ok()) return s;
      return QueryResult{};
    }
  }
  auto r = inner_->Query(sql, params);
  Sample();
  return r;
}

Status RehearsalRecorder::ExecScript(const std::string& sql) {
  if (int i = StatementIndex(sql); i > 0) return RunStatement(sql, i);
  Status s = inner_->ExecScript(sql);
  Sample();
  return s;
}

Status RehearsalRecorder::ExecBatch(const std::vector<std::string_view>& statements, int* failed) {
  for (size_t k = 0; k < statements.size(); ++k) {
    Status s = ExecScript(std::string(statements[k]));
    if (!s.ok()) {
      if (failed) *failed = static_cast<int>(k);
      // A failed statement inside an explicit transaction leaves it aborted; the engine's
      // ROLLBACK follows as it would after a batch.
      return s;
    }
  }
  return Status::Ok();
}

std::vector<RehearsedMigration> RehearsalRecorder::Finish() {
  std::unique_lock<std::mutex> l(mu_);
  CloseMigrationLocked();
  stop_ = true;
  cv_.notify_all();
  l.unlock();
  if (sampler_.joinable()) sampler_.join();
  l.lock();
  AttachLocks(monitor_.get(), done_spans_, &done_);
  done_spans_.clear();
  return std::move(done_);
}

}  // namespace su
