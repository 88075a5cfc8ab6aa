// PlanDrizzle (see drizzle_plan.h).
#include "reconcilers/engines/drizzle/drizzle_plan.h"

#include <algorithm>

#include "reconcilers/sqltext/statement.h"

namespace su {
namespace {

bool Accepted(const std::vector<std::string>& accept, const std::string& version) {
  return std::find(accept.begin(), accept.end(), "*") != accept.end() ||
         std::find(accept.begin(), accept.end(), version) != accept.end();
}

std::string RowLabel(const DrizzleHistoryRow& r) {
  if (r.created_at) return "created_at=" + std::to_string(*r.created_at);
  return "id=" + std::to_string(r.id) + " (created_at NULL)";
}

// The journal entry a history row records: same `when`, preferring one with the same hash
// when a hand-edited journal repeats a `when`.
const DrizzleMigration* MatchRow(const DrizzleFolder& f, const DrizzleHistoryRow& r) {
  if (!r.created_at) return nullptr;
  const DrizzleMigration* first = nullptr;
  for (const auto& m : f.migrations) {
    if (m.entry.when != *r.created_at) continue;
    if (m.hash == r.hash) return &m;
    if (!first) first = &m;
  }
  return first;
}

PendingMigration ToPending(const DrizzleMigration& m) {
  PendingMigration p;
  p.version = m.entry.tag;
  p.name = m.Name();
  p.file = m.file;
  p.checksum = m.hash;
  p.phase = m.phase;  // PlanDrizzle sets EngineState::uses_phases from every journal entry
  std::vector<std::string> texts;
  texts.reserve(m.statements.size());
  for (const auto& st : m.statements) {
    p.summary.push_back(SummarizeStatement(st.text));
    texts.push_back(st.text);
  }
  p.statements = StatementList(std::move(texts));
  return p;
}

}  // namespace

DrizzlePlan PlanDrizzle(const DrizzleFolder& folder, const std::vector<DrizzleHistoryRow>& rows,
                        const std::vector<std::string>& accept_drift) {
  DrizzlePlan plan;
  EngineState& st = plan.state;

  if (!rows.empty()) {
    plan.has_last = true;
    bool any_null = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return !r.created_at; });
    if (any_null) {
      plan.last_created_at = 0;
      st.notes.push_back("a row of the drizzle history table has created_at NULL; drizzle-orm then treats every "
                         "journal entry as pending (it reads the newest row, and NULL sorts first)");
    } else {
      plan.last_created_at = 0;
      bool first = true;
      for (const auto& r : rows) {
        if (first || *r.created_at > plan.last_created_at) plan.last_created_at = *r.created_at;
        first = false;
      }
    }
  }

  // Applied, oldest first: by created_at, then id; rows whose created_at is NULL (time unknown)
  // come first so current_version stays the newest known one.
  std::vector<DrizzleHistoryRow> sorted = rows;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    if (a.created_at.has_value() != b.created_at.has_value()) return !a.created_at.has_value();
    if (a.created_at && *a.created_at != *b.created_at) return *a.created_at < *b.created_at;
    return a.id < b.id;
  });
  std::vector<bool> recorded(folder.migrations.size(), false);
  const DrizzleHistoryRow* newest = nullptr;
  for (const auto& r : sorted) {
    newest = &r;
    AppliedMigration a;
    a.checksum = r.hash;
    const DrizzleMigration* m = MatchRow(folder, r);
    if (!m) {
      a.version = RowLabel(r);
      st.unknown.push_back(a.version);
      st.applied.push_back(std::move(a));
      continue;
    }
    recorded[m->position] = true;
    a.version = m->entry.tag;
    a.name = m->Name();
    if (r.hash != m->hash) {
      DriftedMigration d;
      d.version = m->entry.tag;
      d.name = m->Name();
      d.file = m->file;
      d.recorded_checksum = r.hash;
      d.file_checksum = m->hash;
      d.accepted = Accepted(accept_drift, d.version);
      st.drift.push_back(std::move(d));
    }
    st.applied.push_back(std::move(a));
  }
  if (newest) st.current_version = st.applied.back().version;

  long long prev_when = 0;
  for (size_t i = 0; i < folder.migrations.size(); ++i) {
    const DrizzleMigration& m = folder.migrations[i];
    if (i > 0 && m.entry.when <= prev_when)
      st.notes.push_back(m.file + ": journal entry " + std::to_string(i) + " has when=" + std::to_string(m.entry.when) +
                         ", not later than the entry before it; drizzle-orm applies in journal order but skips "
                         "any entry whose when is not later than the newest applied one");
    prev_when = m.entry.when;
    st.uses_phases |= m.phase == MigrationPhase::kContract;
    if (!plan.has_last || plan.last_created_at < m.entry.when) {
      plan.pending.push_back(i);
      st.pending.push_back(ToPending(m));
    } else if (!recorded[i]) {
      st.notes.push_back(m.file + " (when=" + std::to_string(m.entry.when) +
                         ") has no history row but is not later than the newest applied migration (created_at=" +
                         std::to_string(plan.last_created_at) +
                         "); drizzle-orm will never apply it: give it a later `when` (regenerate it) to apply it");
    }
  }
  if (!folder.migrations.empty()) st.latest_version = folder.migrations.back().entry.tag;
  // Rows later than the journal's last entry: the database is ahead of this folder.
  long long last_when = folder.migrations.empty() ? -1 : folder.migrations.back().entry.when;
  for (const auto& r : rows) {
    if (r.created_at && *r.created_at > last_when && !MatchRow(folder, r)) st.ahead.push_back(RowLabel(r));
  }
  return plan;
}

std::vector<DriftedMigration> UnacceptedDrift(const EngineState& state) {
  std::vector<DriftedMigration> out;
  for (const auto& d : state.drift)
    if (!d.accepted) out.push_back(d);
  return out;
}

}  // namespace su
