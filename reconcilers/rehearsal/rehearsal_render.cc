// Text, markdown and one-line renderings of a RehearsalReport (see rehearsal.h).
#include <sstream>

#include "reconcilers/rehearsal/rehearsal.h"

namespace su {
namespace {

std::string Bytes(long long b) {
  const char* unit[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::ostringstream o;
  o.precision(u == 0 ? 0 : 1);
  o << std::fixed << v << " " << unit[u];
  return o.str();
}

// reltuples: -1 until the table was first vacuumed or analyzed.
std::string Rows(long long n) { return n < 0 ? "rows not counted yet" : "~" + std::to_string(n) + " row(s)"; }

const RehearsedLock* Longest(const RehearsalReport& r, const RehearsedMigration** in = nullptr) {
  const RehearsedLock* best = nullptr;
  for (const auto& m : r.migrations) {
    for (const auto& l : m.locks) {
      if (!best || l.held_ms > best->held_ms) {
        best = &l;
        if (in) *in = &m;
      }
    }
  }
  return best;
}

std::string RowCounts(const RehearsedRowCount& c) {
  return std::to_string(c.inserted) + " inserted, " + std::to_string(c.updated) + " updated, " +
         std::to_string(c.deleted) + " deleted";
}

std::string Failure(const RehearsalReport& r) {
  std::string s = "rehearsal FAILED";
  if (!r.failed_version.empty()) {
    s += " at migration " + r.failed_version;
    if (r.failed_statement > 0) s += " statement " + std::to_string(r.failed_statement);
    if (!r.failed_summary.empty()) s += " (" + r.failed_summary + ")";
  }
  return s + ": " + r.error;
}

}  // namespace

std::string RehearsalSummary(const RehearsalReport& r) {
  if (!r.ran) return "rehearsal skipped: " + r.skipped;
  if (!r.ok) return Failure(r);
  std::string s = std::string("rehearsal ok on a copy") + (r.other_server ? " on the rehearsal server" : "") + " (" + r.copy_method + ", " + std::to_string(r.copy_ms) + " ms): " +
                  std::to_string(r.migrations.size()) + " migration(s) in " + std::to_string(r.total_ms) + " ms";
  if (const RehearsedLock* l = Longest(r)) {
    s += ", longest lock " + l->mode + " on " + l->relation + " " + std::to_string(l->held_ms) + " ms";
  }
  return s;
}

std::string RenderRehearsalText(const RehearsalReport& r) {
  std::ostringstream o;
  o << "\nRehearsal: " << RehearsalSummary(r) << "\n";
  if (!r.ran) return o.str();
  o << "  copy: " << r.scratch_database << (r.other_server ? " on the rehearsal server (policy.rehearseOn)" : "") << " by " << (r.copy_method.empty() ? "(not made)" : r.copy_method);
  if (!r.template_skipped.empty()) o << " (TEMPLATE not used: " << r.template_skipped << ")";
  o << ", " << (r.dropped ? "dropped" : "NOT dropped: " + r.drop_error) << "\n";
  if (!r.measured.empty()) o << "  measured: " << r.measured << "\n";
  for (const auto& m : r.migrations) {
    o << "  " << (m.ok ? "ok   " : "FAIL ") << m.version << " " << m.name << "  " << m.duration_ms << " ms\n";
    for (const auto& s : m.statements) {
      o << "      " << s.index << ". " << s.summary << "  " << s.duration_ms << " ms";
      if (s.rows >= 0) o << ", " << s.rows << " row(s)";
      if (!s.error.empty()) o << "  ERROR: " << s.error;
      o << "\n";
    }
    for (const auto& l : m.locks) {
      o << "      lock " << l.mode << " on " << l.relation
        << (l.statement > 0 ? " (statement " + std::to_string(l.statement) + ")" : std::string()) << " held "
        << l.held_ms << " ms" << (l.waited ? ", waited" : "") << "\n";
    }
    for (const auto& t : m.tables) {
      o << "      table " << t.name << ": " << Rows(t.rows) << ", " << Bytes(t.bytes) << "\n";
    }
  }
  if (r.rows_measured) {
    o << "  rows touched by the whole run (pg_stat_user_tables; the migrator's SQL is inside its image):"
      << (r.rows_touched.empty() ? " none" : "") << "\n";
    for (const auto& c : r.rows_touched) o << "      table " << c.table << ": " << RowCounts(c) << "\n";
  }
  if (!r.rows_note.empty()) o << "  rows: " << r.rows_note << "\n";
  return o.str();
}

std::string RenderRehearsalMarkdown(const RehearsalReport& r) {
  std::ostringstream o;
  o << "\n### Rehearsal on a copy\n\n";
  if (!r.ran) {
    o << "Skipped: " << r.skipped << "\n";
    return o.str();
  }
  o << (r.ok ? ":white_check_mark: " : ":x: ") << RehearsalSummary(r) << "\n\n";
  if (!r.measured.empty()) o << "Measured: " << r.measured << "\n\n";
  if (r.migrations.empty()) return o.str();
  o << "| migration | result | duration | locks (mode on relation, held) | rows | tables |\n";
  o << "|---|---|---|---|---|---|\n";
  auto cell = [](std::string s) {
    for (auto& c : s) {
      if (c == '|' || c == '\n') c = ' ';
    }
    return s;
  };
  for (const auto& m : r.migrations) {
    std::string locks, tables;
    long long rows = 0;
    for (const auto& l : m.locks) {
      locks += (locks.empty() ? "" : "<br>") + l.mode + " on `" + l.relation + "` " + std::to_string(l.held_ms) + " ms";
    }
    for (const auto& s : m.statements) rows += s.rows > 0 ? s.rows : 0;
    for (const auto& t : m.tables) {
      tables += (tables.empty() ? "" : "<br>") + ("`" + t.name + "` " + Rows(t.rows) + ", " + Bytes(t.bytes));
    }
    o << "| `" << m.version << "` " << cell(m.name) << " | " << (m.ok ? "ok" : "**failed**: " + cell(m.error)) << " | "
      << m.duration_ms << " ms | " << cell(locks) << " | " << (m.statements.empty() ? "n/a" : std::to_string(rows)) << " | " << cell(tables) << " |\n";
  }
  if (r.rows_measured) {
    o << "\nRows touched by the whole run (from `pg_stat_user_tables`; not per migration: the SQL is inside the "
         "image):";
    if (r.rows_touched.empty()) o << " none.";
    o << "\n";
    if (!r.rows_touched.empty()) {
      o << "\n| table | inserted | updated | deleted |\n|---|---|---|---|\n";
      for (const auto& c : r.rows_touched) {
        o << "| `" << cell(c.table) << "` | " << c.inserted << " | " << c.updated << " | " << c.deleted << " |\n";
      }
    }
  }
  if (!r.rows_note.empty()) o << "\nRows: " << cell(r.rows_note) << "\n";
  return o.str();
}

}  // namespace su
