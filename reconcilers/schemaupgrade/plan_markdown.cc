// The plan as a PR comment (see plan_markdown.h).
#include "reconcilers/schemaupgrade/plan_markdown.h"

#include <algorithm>
#include <sstream>

namespace su {
namespace {

std::string Or(const std::string& s, const std::string& fallback) { return s.empty() ? fallback : s; }

std::string BaseNameOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Plural(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// An ory migration: listed by the image's migrator, no file and no statements of ours.
bool InsideImage(const PendingMigration& m) { return m.file.empty() && m.statements.empty() && m.summary.empty(); }

// A code fence of backticks longer than the longest backtick run in text (at least three).
std::string Fence(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

// Text inside a table cell or a one-line list item: no line breaks, no unescaped pipes.
std::string Cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') out += ' ';
    else if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

// HTML text (inside <summary>): &, <, > escaped.
std::string Html(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string Trimmed(std::string t) {
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) t.pop_back();
  size_t lead = 0;
  while (lead < t.size() && (t[lead] == '\n' || t[lead] == '\r')) ++lead;
  return t.substr(lead);
}

// The statements of a migration as one SQL block: full text, each ending with ';'.
std::string SqlBody(const PendingMigration& m) {
  std::string body;
  // Full statements; the summaries only when the engine gave no statements.
  std::vector<std::string_view> texts(m.statements.begin(), m.statements.end());
  if (texts.empty()) texts.assign(m.summary.begin(), m.summary.end());
  for (std::string_view s : texts) {
    body += Trimmed(std::string(s));
    if (!body.empty() && body.back() != ';') body += ";";
    body += "\n";
  }
  return body;
}

std::string CodeBlock(const std::string& lang, const std::string& body, const std::string& indent = "") {
  const std::string fence = Fence(body);
  std::string out = indent + fence + lang + "\n";
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) out += (line.empty() ? "" : indent) + line + "\n";
  return out + indent + fence + "\n";
}

std::string LintVerdict(const Plan& p) {
  int errors = p.LintErrors();
  size_t warnings = p.findings.size() - static_cast<size_t>(errors);
  if (p.findings.empty()) return "lint: ✅ no findings";
  std::string s = "lint: ";
  s += errors ? "❌ " : "⚠️ ";
  if (errors) s += Plural(errors, "error", "errors");
  if (errors && warnings) s += ", ";
  if (warnings) s += Plural(warnings, "warning", "warnings");
  return s;
}

const PendingMigration* MigrationOf(const Plan& p, const LintFinding& f) {
  for (const auto& m : p.state.pending) {
    if (!m.file.empty() && (m.file == f.file || BaseNameOf(m.file) == BaseNameOf(f.file))) return &m;
  }
  return nullptr;
}

std::string Approver(const Plan& p, const PlanCommentOptions& o) {
  return "schema-upgrade approve -f " + Or(o.manifest, "M.yaml") + " --name " + p.resource;
}

}  // namespace

std::string PlanSummaryLine(const Plan& p, const PlanCommentOptions& o) {
  std::ostringstream s;
  s << "`" << p.resource << "`: ";
  if (o.offline) {
    s << (o.from_version.empty() ? "new, " : "`" + o.from_version + "` → ") << "`" << p.target_version << "`";
  } else {
    s << "database at `" << Or(p.db_version, "(empty)") << "`, target `" << p.target_version << "`";
  }
  size_t n = p.state.pending.size();
  if (!o.migrations_unknown.empty()) {
    s << ", " << p.engine << " migrations unknown offline";
  } else {
    s << ", " << (n ? Plural(n, p.engine + " migration", p.engine + " migrations") : "no migrations");
  }
  if (!p.target_image.empty() && p.target_image != p.current_image) {
    s << ", image `" << Or(p.current_image, "(none)") << "` → `" << p.target_image << "`";
  }
  s << "; " << LintVerdict(p);
  if (!p.refused.empty()) s << "; ⛔ apply will refuse";
  else if (p.HasUnacceptedDrift()) s << "; ⛔ drift: apply will refuse";
  else if (p.UpToDate() && o.migrations_unknown.empty()) s << "; nothing to do";
  return s.str();
}

std::string RenderPlanComment(const Plan& p, const PlanCommentOptions& o) {
  std::ostringstream out;
  out << "### Schema upgrade `" << p.resource << "`" << (o.offline ? " (offline plan)" : "") << "\n\n";
  out << "**" << PlanSummaryLine(p, o) << "**\n\n";

  // What could refuse the apply comes first: a reviewer must not miss it.
  if (!p.refused.empty()) out << "> [!CAUTION]\n> **Apply will refuse and change nothing:** " << Cell(p.refused) << "\n\n";
  if (!p.state.drift.empty()) {
    out << "#### :warning: Drift\n\n";
    for (const auto& d : p.state.drift) {
      out << "- `" << d.version << "` " << Cell(d.name) << " changed after it was applied"
          << (d.accepted ? " (accepted by policy.acceptDrift)"
                         : ": **apply will refuse**; restore the file or list the version in spec.policy.acceptDrift")
          << "\n";
    }
    out << "\n";
  }
  if (p.downgrade) {
    out << "#### :warning: Downgrade\n\nThe database holds " << p.ahead.size() << " migration(s) target `"
        << p.target_version << "` does not know: `";
    for (size_t i = 0; i < p.ahead.size(); ++i) out << (i ? ", " : "") << p.ahead[i];
    out << "`.\n\n";
  }

  // Risky statements first, errors before warnings, each with its fix.
  if (!p.findings.empty()) {
    std::vector<LintFinding> risky = p.findings;
    std::stable_sort(risky.begin(), risky.end(), [](const LintFinding& a, const LintFinding& b) {
      return a.severity == LintSeverity::kError && b.severity != LintSeverity::kError;
    });
    out << "#### Risky statements (" << risky.size() << ")\n\n";
    for (const auto& f : risky) {
      const PendingMigration* m = MigrationOf(p, f);
      out << "- " << (f.severity == LintSeverity::kError ? "❌ **error**" : "⚠️ **warning**") << " `" << f.rule
          << "` at `" << BaseNameOf(f.file) << ":" << f.line << "`"
          << (m ? " (migration `" + m->version + "`)" : "") << ": " << Cell(f.message)
          << (f.table_rows >= 0 ? " (`" + f.table + "`: ~" + std::to_string(f.table_rows) + " rows now)" : "") << "\n";
      if (!f.statement.empty()) out << "\n" << CodeBlock("sql", Trimmed(f.statement) + "\n", "  ") << "\n";
      out << "  **Fix:** " << Cell(f.suggestion) << "\n";
    }
    out << "\n";
  }

  if (o.offline && !o.offline_unknowns.empty()) {
    out << "#### Not known offline\n\nThis plan was computed from the manifests and migration sources"
        << (o.from_label.empty() ? "" : " (previous version from `" + o.from_label + "`)")
        << ", without the database. It cannot know:\n\n";
    for (const auto& u : o.offline_unknowns) out << "- " << u << "\n";
    out << "\n";
  }

  if (!o.migrations_unknown.empty()) {
    out << "#### Migrations\n\nNot known offline: " << Cell(o.migrations_unknown) << ".\n\n";
  } else if (p.state.pending.empty()) {
    out << "No pending migrations.\n\n";
  } else {
    out << "#### Migrations (" << p.state.pending.size() << ")\n\n";
    const size_t expand = ExpandPrefix(p.state.pending);
    for (size_t i = 0; i < p.state.pending.size(); ++i) {
      const PendingMigration& m = p.state.pending[i];
      if (PlanHasContractSteps(p) && i == 0 && expand > 0) {
        out << "**Expand** (" << expand << ", before the image bump; the old version keeps serving)\n\n";
      }
      if (PlanHasContractSteps(p) && i == expand) {
        out << "\n**Contract** (" << p.state.pending.size() - expand
            << ", after verify, once no instance of the old version remains; contract hash `" << p.contract_hash
            << "`)\n\n";
      }
      if (InsideImage(m)) {
        // Ory: the SQL ships inside the image and its own migrator runs it.
        out << "- `" << m.version << "` " << Cell(m.name) << ": the statements live inside the image"
            << (p.target_image.empty() ? "" : " `" + p.target_image + "`")
            << " and its own migrator runs them (`migrate sql up`); the SQL is in the service's source "
               "repository at this version\n";
        continue;
      }
      size_t n = m.statements.empty() ? m.summary.size() : m.statements.size();
      size_t findings = m.findings.size();
      out << "<details><summary><code>" << Html(m.version) << "</code> " << Html(m.name) << " · "
          << (n ? Plural(n, "statement", "statements") : "no statements") << " · "
          << (m.no_transaction ? "no transaction (CONCURRENTLY)" : "one transaction")
          << (findings ? " · ⚠️ " + Plural(findings, "finding", "findings") : "") << "</summary>\n\n";
      if (!m.file.empty()) out << "`" << BaseNameOf(m.file) << "`\n\n";
      if (n == 0) {
        out << "An empty file: nothing runs, its version is recorded.\n\n";
      } else {
        // Full statements, not their summaries: reviewers approve what runs. The fence is longer
        // than any backtick run inside, so a statement cannot close it.
        out << CodeBlock("sql", SqlBody(m)) << "\n";
      }
      out << "</details>\n";
    }
    out << "\n";
  }

  if (!p.state.unknown.empty() && !p.downgrade) {
    out << "Applied in the database but not in the source: `";
    for (size_t i = 0; i < p.state.unknown.size(); ++i) out << (i ? ", " : "") << p.state.unknown[i];
    out << "`.\n\n";
  }
  for (const auto& n : p.state.notes) out << "> **Note:** " << Cell(n) << "\n\n";
  if (!p.state.backfills.empty()) {  // docs/backfill.md: a row per pending backfill migration
    out << "#### Backfills\n\n| migration | table | key | batches | rows (estimate) | interrupted run |\n"
           "|---|---|---|---|---|---|\n";
    for (const auto& b : p.state.backfills) {
      const std::string batches =
          std::to_string(b.batch) + (b.adaptive ? " (adaptive " + std::to_string(b.min_batch) + ".." +
                                                      std::to_string(b.max_batch) + ", " +
                                                      std::to_string(b.batch_time_ms) + " ms each)"
                                                : " (fixed)") +
          ", " + std::to_string(b.pause_ms) + " ms pause";
      const std::string rows = !b.table_exists       ? "new table (created by this plan)"
                               : b.rows_estimate >= 0 ? "~" + std::to_string(b.rows_estimate)
                                                      : "unknown (never analyzed)";
      const std::string run =
          !b.interrupted ? "-"
                         : std::to_string(b.rows_done) + " rows in " + std::to_string(b.batches) + " batches; resumes " +
                               (b.resume_after.empty() ? "from the start" : "after key `" + b.resume_after + "`");
      out << "| `" << Cell(b.version) << "` | `" << Cell(b.table) << "` | `" << Cell(b.key) << "` | " << batches
          << " | " << rows << " | " << Cell(run) << " |\n";
    }
    out << "\n";
  }
  if (!p.preflight.empty()) {
    out << "#### Pre-flight\n\n";
    for (const auto& f : p.preflight) out << "- " << Cell(f) << "\n";
    out << "\n";
  }

  if (!p.path.empty()) {  // docs/upgrade-paths.md
    out << "#### Upgrade path\n\n| # | release | image | migrations |\n|---|---|---|---|\n";
    for (size_t i = 0; i < p.path.size(); ++i) {
      const auto& s = p.path[i];
      std::string migrations;
      if (s.current) {
        for (const auto& m : s.migrations) migrations += (migrations.empty() ? "" : ", ") + m;
        if (migrations.empty()) migrations = "none pending";
        migrations = "**this step:** " + migrations;
      } else {
        migrations = s.migrations_up_to.empty() ? "the rest" : "up to " + s.migrations_up_to;
      }
      out << "| " << i + 1 << " | " << Cell(s.version) << " | " << (s.image.empty() ? "" : "`" + s.image + "`") << " | "
          << Cell(migrations) << " |\n";
    }
    out << "\n";
  }
  if (p.rehearsal) out << RenderRehearsalMarkdown(*p.rehearsal) << "\n";

  out << "#### Steps\n\n";
  if (p.steps.empty()) out << "Nothing to do: up to date.\n";
  for (size_t i = 0; i < p.steps.size(); ++i) out << i + 1 << ". **" << p.steps[i].kind << "**: " << p.steps[i].description << "\n";
  out << "\n";

  out << "<details><summary>Plan details</summary>\n\n";
  out << "| | |\n|---|---|\n";
  out << "| Service | `" << p.service << "` |\n";
  out << "| Engine | `" << p.engine << "` |\n";
  if (o.offline) {
    out << "| Previous version | `" << Or(o.from_version, "(none: a new resource)") << "` |\n";
    out << "| Newest migration before | `" << Or(p.db_version, "(none)") << "` |\n";
  } else {
    out << "| Database version | `" << Or(p.db_version, "(empty)") << "` |\n";
  }
  out << "| Target version | `" << p.target_version << "` |\n";
  if (!p.target_image.empty()) out << "| Image | `" << Or(p.current_image, "(none)") << "` → `" << p.target_image << "` |\n";
  if (!p.database.empty()) out << "| Database | `" << p.database << "` |\n";
  out << "| Plan hash | " << (o.offline ? "not known offline" : "`" + p.hash + "`") << " |\n\n</details>\n\n";

  if (!p.UpToDate()) {
    out << "#### Approve\n\n";
    if (o.offline) {
      out << "The plan hash covers the database (its identity and current version), which this plan did not "
             "see. Where the database is reachable, run\n\n"
          << CodeBlock("sh", Approver(p, o) + "\n")
          << "\nIt computes the plan there, writes its hash into the manifest "
             "(`olympus.io/approved-plan-hash`) and prints the pending migrations: they must be the ones "
             "listed above; commit the change to this PR.\n";
    } else {
      out << "Plan hash `" << p.hash << "`. To approve exactly this plan (refused if the plan changed since):\n\n"
          << CodeBlock("sh", Approver(p, o) + " --hash " + p.hash + "\n")
          << "\nor add the annotation `olympus.io/approved-plan-hash: " << p.hash << "` to the manifest.\n";
    }
  }
  return out.str();
}

std::string RenderPlanMarkdown(const Plan& plan) { return RenderPlanComment(plan, {}); }

}  // namespace su
