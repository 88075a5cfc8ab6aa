// Status helpers and text rendering (see status.h).
#include "api/status.h"

#include <sstream>

namespace su {

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kPending: return "Pending";
    case Phase::kWaiting: return "Waiting";
    case Phase::kPlanning: return "Planning";
    case Phase::kBackingUp: return "BackingUp";
    case Phase::kMigrating: return "Migrating";
    case Phase::kBumping: return "Bumping";
    case Phase::kVerifying: return "Verifying";
    case Phase::kSucceeded: return "Succeeded";
    case Phase::kFailed: return "Failed";
    case Phase::kExpanding: return "Expanding";
    case Phase::kSoaking: return "Soaking";
    case Phase::kContracting: return "Contracting";
  }
  return "Pending";
}

bool ParsePhase(const std::string& s, Phase* out) {
  for (Phase p : kAllPhases) {
    if (s == PhaseName(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

void SetCondition(ResourceStatus* s, const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message, long long generation, Clock::TimePoint now) {
  for (auto& c : s->conditions) {
    if (c.type != type) continue;
    if (c.status != status) c.last_transition_time = FormatTime(now);
    c.status = status;
    c.reason = reason;
    c.message = message;
    c.observed_generation = generation;
    return;
  }
  s->conditions.push_back({type, status, reason, message, generation, FormatTime(now)});
}

bool SameStatusContent(const ResourceStatus& a, const ResourceStatus& b) {
  ResourceStatus x = a;
  x.updated_at = b.updated_at;
  x.observed_at = b.observed_at;
  x.resource = b.resource;  // the key's, not content (the Kubernetes store does not keep it)
  return x == b;
}

const Condition* FindCondition(const ResourceStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

std::string RenderStatusText(const ResourceStatus& s) {
  std::ostringstream o;
  o << s.resource << ": " << PhaseName(s.phase);
  if (!s.message.empty()) o << " - " << s.message;
  o << "\n";
  o << "  versions:    database " << (s.current_version.empty() ? "(empty)" : s.current_version) << ", target "
    << s.target_version << "\n";
  if (!s.observed_at.empty()) o << "  observed:    " << s.observed_at << " (database version and image)\n";
  if (!s.image.empty() || !s.previous_image.empty()) {
    o << "  image:       " << (s.image.empty() ? "(none)" : s.image);
    if (!s.previous_image.empty() && s.previous_image != s.image) o << " (was " << s.previous_image << ")";
    o << "\n";
  }
  if (!s.pending.empty()) {
    o << "  pending:     ";
    for (size_t i = 0; i < s.pending.size(); ++i) o << (i ? ", " : "") << s.pending[i];
    o << "\n";
  }
  if (!s.applied.empty()) {
    o << "  applied:     " << s.applied_total << " migration(s)";
    if (static_cast<size_t>(s.applied_total) > s.applied.size()) o << " (the last " << s.applied.size() << " below; `history` has all)";
    o << "\n";
    for (const auto& a : s.applied) {
      o << "    " << a.version << " " << a.name << "  " << a.duration_ms << " ms  " << a.applied_at << "\n";
    }
  }
  if (!s.path_step.empty() || !s.path_done.empty()) {
    // policy.stepThrough (docs/upgrade-paths.md): the release of the path being worked on (also
    // while it waits, e.g. for its own approval) and the ones reached.
    o << "  path:        ";
    if (!s.path_step.empty()) o << "step " << s.path_step << (s.path_step_started_at.empty() ? " (not started)" : "");
    if (!s.path_done.empty()) {
      o << (s.path_step.empty() ? "" : "; ") << "done ";
      for (size_t i = 0; i < s.path_done.size(); ++i) o << (i ? ", " : "") << s.path_done[i];
    }
    o << "\n";
  }
  o << "  attempts:    " << s.attempts << "\n";
  if (!s.last_error.empty()) o << "  last error:  " << s.last_error << "\n";
  if (!s.failure_action.empty()) o << "  on failure:  " << s.failure_action << "\n";
  if (!s.rehearsal.empty()) o << "  rehearsal:   " << s.rehearsal << "\n";
  if (s.undo) {
    // An interrupted onFailure rollback: the next pass resumes it (docs/policies.md).
    o << "  undoing:     onFailure " << s.undo->policy << " of plan " << s.undo->plan_hash << " (target "
      << s.undo->target_version << ") back to " << (s.undo->start_image.empty() ? "(image unchanged)" : s.undo->start_image)
      << " and database " << (s.undo->start_version.empty() ? "(unchanged)" : s.undo->start_version) << "; done: ";
    for (size_t i = 0; i < s.undo->done.size(); ++i) o << (i ? ", " : "") << s.undo->done[i];
    o << (s.undo->done.empty() ? "nothing yet" : "") << "\n";
  }

  if (!s.contract_after.empty()) o << "  contract at: " << s.contract_after << " (expand/contract: the soak ends)\n";
  if (!s.next_retry_at.empty()) o << "  next retry:  " << s.next_retry_at << "\n";
  if (s.backup) o << "  backup:      " << s.backup->path << " (" << s.backup->size_bytes << " bytes, " << s.backup->taken_at << ")\n";
  if (s.backup && s.backup->rows_written_since >= 0) {
    o << "  written since the backup: " << s.backup->rows_written_since << " row(s)\n";
  }
  for (const auto& b : s.blocked_sessions) {
    o << "  blocked:     pid " << b.pid << " (" << b.application_name << ") waiting " << b.waiting_ms << " ms\n";
  }
  if (s.backfill) {
    o << "  backfill:    " << s.backfill->version << " " << s.backfill->rows_done << " of ~" << s.backfill->rows_total
      << " rows, " << s.backfill->rows_per_second << " rows/s";
    if (s.backfill->eta_seconds > 0) o << ", about " << s.backfill->eta_seconds << " s left";
    o << " (" << s.backfill->updated_at << ")\n";
  }
  for (const auto& c : s.conditions) {
    o << "  condition:   " << c.type << "=" << c.status << " " << c.reason << (c.message.empty() ? "" : ": " + c.message)
      << "\n";
  }
  if (!s.plan_hash.empty()) o << "  plan hash:   " << s.plan_hash << "\n";
  if (!s.updated_at.empty()) o << "  updated:     " << s.updated_at << "\n";
  return o.str();
}

}  // namespace su
