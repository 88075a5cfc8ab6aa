// Sampling of a migrator process's sessions on the rehearsal copy (see migrator_recorder.h).
#include "reconcilers/rehearsal/migrator_recorder.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "reconcilers/base/log.h"
#include "reconcilers/rehearsal/recorder.h"

namespace su {
namespace {

// "{1,2}" for an int[] parameter.
std::string IntArray(const std::vector<int>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t c = s.find(',', pos);
    out.push_back(s.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

}  // namespace

MigratorRecorder::MigratorRecorder(std::unique_ptr<Database> monitor, std::vector<int> own_pids,
                                   std::string history_table, std::vector<std::pair<std::string, std::string>> pending,
                                   std::chrono::milliseconds interval)
    : own_pids_(std::move(own_pids)),
      history_table_(std::move(history_table)),
      pending_(std::move(pending)),
      interval_(interval),
      monitor_(std::move(monitor)),
      row_seen_ms_(pending_.size(), -1) {
  // Before the migrator starts and before the sampler runs (no lock needed yet): the copy's
  // making must have left, or its rows would count as the migrator's.
  if (monitor_) {
    (void)OthersGoneLocked(std::chrono::seconds(10));
    auto before = ReadCountsLocked();
    if (before.ok()) {
      rows_before_ = std::move(before).value();
      rows_before_ok_ = true;
    } else {
      rows_note_ = "table statistics could not be read before the run: " + before.status().message();
    }
  }
  sampler_ = std::thread([this] { Loop(); });
}

MigratorRecorder::~MigratorRecorder() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

bool MigratorRecorder::OthersGoneLocked(std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    auto r = monitor_->Query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' "
        "AND pid <> pg_backend_pid() AND pid <> ALL($1::int[])",
        {IntArray(own_pids_)});
    if (!r.ok()) return false;
    if (r->Get(0, 0) == "0") return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval_);  // polling another process's sessions: nothing to wait on
  }
}

Result<std::map<std::string, MigratorRecorder::TupleCounts>> MigratorRecorder::ReadCountsLocked() {
  SU_ASSIGN_OR_RETURN(QueryResult r, monitor_->Query("SELECT relid::text, schemaname || '.' || relname, n_tup_ins, "
                                                     "n_tup_upd, n_tup_del FROM pg_stat_user_tables"));
  std::map<std::string, TupleCounts> out;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    TupleCounts c;
    c.table = r.Get(i, 1);
    c.ins = std::stoll(r.Get(i, 2, "0"));
    c.upd = std::stoll(r.Get(i, 3, "0"));
    c.del = std::stoll(r.Get(i, 4, "0"));
    out.emplace(r.Get(i, 0), std::move(c));
  }
  return out;
}

void MigratorRecorder::RowsTouchedLocked(const std::set<std::string>& skip) {
  if (!monitor_ || !rows_before_ok_) return;
  // The migrator has exited; its sessions leave the copy right after (their counts are flushed
  // before they leave pg_stat_activity).
  const bool gone = OthersGoneLocked(std::chrono::seconds(30));
  auto after = ReadCountsLocked();
  if (!after.ok()) {
    rows_note_ = "table statistics could not be read after the run: " + after.status().message();
    return;
  }
  for (const auto& [oid, a] : *after) {
    if (skip.count(oid)) continue;
    TupleCounts b;
    if (auto it = rows_before_.find(oid); it != rows_before_.end()) b = it->second;
    RehearsedRowCount c{a.table, a.ins - b.ins, a.upd - b.upd, a.del - b.del};
    if (c.inserted == 0 && c.updated == 0 && c.deleted == 0) continue;
    rows_touched_.push_back(std::move(c));
  }
  std::sort(rows_touched_.begin(), rows_touched_.end(), [](const RehearsedRowCount& x, const RehearsedRowCount& y) {
    const long long tx = x.inserted + x.updated + x.deleted, ty = y.inserted + y.updated + y.deleted;
    return std::tie(ty, x.table) < std::tie(tx, y.table);
  });
  rows_measured_ = true;
  if (!gone) {
    rows_note_ = "a session of the migrator was still connected to the copy 30 s after it exited: its last "
                 "transaction may be missing from the counts";
  }
}

long long MigratorRecorder::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0_).count();
}

void MigratorRecorder::MigratorStarting() {
  std::lock_guard<std::mutex> l(mu_);
  if (migrator_start_ms_ < 0) migrator_start_ms_ = NowMs();
}

void MigratorRecorder::Announced(const std::string& version) {
  std::lock_guard<std::mutex> l(mu_);
  announced_ms_.emplace(version, NowMs());
}

void MigratorRecorder::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    SampleLocked();
    cv_.wait_for(l, interval_, [this] { return stop_; });
  }
}

size_t MigratorRecorder::RunningLocked() const {
  size_t i = 0;
  while (i < pending_.size() && row_seen_ms_[i] >= 0) ++i;
  return i;
}

void MigratorRecorder::SampleLocked() {
  if (!monitor_) return;
  if (!history_exists_) {
    // A database the migrator has not touched yet has no history table (popx creates it).
    auto r = monitor_->Query("SELECT to_regclass($1) IS NOT NULL", {QuoteQualified(history_table_)});
    if (!r.ok()) {
      LogWarn("rehearsal_lock_sample_failed", {{"error", r.status().message()}});
      return;
    }
    history_exists_ = r->Get(0, 0) == "t";
  }
  // One statement: its snapshot (the history) is taken before pg_locks is read, so a lock seen
  // here was held after the history looked like this.
  const std::string history =
      history_exists_ ? "(SELECT string_agg(DISTINCT version::text, ',') FROM " + QuoteQualified(history_table_) + ")"
                      : "NULL::text";
  auto r = monitor_->Query(
      "SELECT " + history + ", x.pid::text, x.xs, x.rel, x.mode, x.granted FROM (SELECT 1) one LEFT JOIN ("
      "SELECT l.pid, coalesce(a.xact_start::text, '') AS xs, l.relation::text AS rel, l.mode, l.granted "
      "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE a.datname = current_database() AND l.locktype = 'relation' "
      "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "AND l.pid <> pg_backend_pid() AND l.pid <> ALL($1::int[])) x ON true",
      {IntArray(own_pids_)});
  if (!r.ok()) {
    // The table may be gone for a moment (a migration recreating it): look again next time.
    history_exists_ = false;
    LogWarn("rehearsal_lock_sample_failed", {{"error", r.status().message()}});
    return;
  }
  const long long now = NowMs();
  const long long prev = last_sample_ms_ < 0 ? now : last_sample_ms_;
  last_sample_ms_ = now;
  if (!r->rows.empty()) {
    std::set<std::string> recorded;
    for (auto& v : SplitComma(r->Get(0, 0))) recorded.insert(std::move(v));
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (row_seen_ms_[i] < 0 && recorded.count(pending_[i].first)) row_seen_ms_[i] = now;
    }
  }
  const size_t running = RunningLocked();
  std::set<std::string> seen;
  for (size_t i = 0; i < r->rows.size(); ++i) {
    if (!r->rows[i][1].has_value()) continue;  // no lock at all: the LEFT JOIN's one row
    const std::string xact = r->Get(i, 1) + "/" + r->Get(i, 2);
    const std::string key = xact + "/" + r->Get(i, 3) + "/" + r->Get(i, 4);
    const bool granted = r->Get(i, 5) == "t";
    seen.insert(key);
    if (auto it = open_.find(key); it != open_.end()) {
      spans_[it->second].waited |= !granted;
      continue;
    }
    auto owner = xact_migration_.emplace(xact, running).first->second;
    if (owner >= pending_.size()) continue;  // after the last migration recorded its row
    Span s;
    s.oid = r->Get(i, 3);
    s.mode = r->Get(i, 4);
    s.migration = owner;
    s.start_ms = prev;
    s.waited = !granted;
    open_.emplace(key, spans_.size());
    spans_.push_back(std::move(s));
  }
  for (auto it = open_.begin(); it != open_.end();) {
    if (!seen.count(it->first)) {
      spans_[it->second].end_ms = now;
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<RehearsedMigration> MigratorRecorder::Finish(const std::string& failed_version,
                                                          const std::string& failed_error) {
  std::unique_lock<std::mutex> l(mu_);
  SampleLocked();  // rows committed just before the migrator exited
  stop_ = true;
  cv_.notify_all();
  l.unlock();
  if (sampler_.joinable()) sampler_.join();
  l.lock();
  const long long now = NowMs();
  for (auto& s : spans_) {
    if (s.end_ms < 0) s.end_ms = now;
  }
  std::vector<RehearsedMigration> out;
  std::vector<std::vector<LockSpan>> spans;
  const size_t running = RunningLocked();
  // Ran: every version whose row appeared, and the one that was running when the migrator stopped
  // unless nothing shows it started (no row, no announcement, no lock) after a clean exit.
  size_t ran = running;
  if (running < pending_.size()) {
    bool started = !failed_version.empty() || announced_ms_.count(pending_[running].first);
    for (const auto& s : spans_) started = started || s.migration == running;
    if (started) ran = running + 1;
  }
  long long prev_end = migrator_start_ms_;
  for (size_t i = 0; i < ran; ++i) {
    RehearsedMigration m;
    m.version = pending_[i].first;
    m.name = pending_[i].second;
    m.ok = row_seen_ms_[i] >= 0;
    long long start = prev_end;
    if (auto it = announced_ms_.find(m.version); it != announced_ms_.end()) start = it->second;
    if (start < 0) start = 0;
    long long end = m.ok ? row_seen_ms_[i] : now;
    m.duration_ms = std::max<long long>(0, end - start);
    if (!m.ok && (failed_version.empty() || failed_version == m.version)) m.error = failed_error;
    std::vector<LockSpan> per;
    for (const auto& s : spans_) {
      if (s.migration != i) continue;
      LockSpan ls;
      ls.oid = s.oid;
      ls.mode = s.mode;
      ls.start_ms = std::max(s.start_ms, start);
      ls.end_ms = s.end_ms;
      ls.waited = s.waited;
      per.push_back(std::move(ls));
    }
    spans.push_back(std::move(per));
    out.push_back(std::move(m));
    prev_end = end;
  }
  std::set<std::string> skip;
  if (monitor_) {
    auto h = monitor_->Query("SELECT to_regclass($1)::oid::text", {QuoteQualified(history_table_)});
    if (h.ok() && !h->rows.empty() && h->rows[0][0].has_value()) skip.insert(h->Get(0, 0));
  }
  AttachLocks(monitor_.get(), spans, &out, skip);
  RowsTouchedLocked(skip);
  return out;
}

}  // namespace su
