// kubectl-plugin status summary (see status_summary.h).
#include "controller/cli/status_summary.h"

#include <sstream>

namespace su {
namespace {

void Line(std::ostringstream& o, const char* label, const std::string& value) {
  std::string l = std::string(label) + ":";
  o << l << std::string(l.size() < 20 ? 20 - l.size() : 1, ' ') << value << "\n";
}

std::string Or(const std::string& s, const char* fallback) { return s.empty() ? fallback : s; }

const Condition* Find(const ResourceStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

// What happened last, in one line: the failure, else the last migration applied, else the message.
std::string LastStep(const ResourceStatus& s) {
  if (s.phase == Phase::kFailed && !s.last_error.empty()) {
    return "failed: " + s.last_error + (s.failure_action.empty() ? "" : " (on failure: " + s.failure_action + ")");
  }
  if (!s.applied.empty()) {
    const auto& a = s.applied.back();
    return "applied " + a.version + " " + a.name + " (" + std::to_string(a.duration_ms) + " ms" +
           (a.applied_at.empty() ? "" : ", " + a.applied_at) + ")";
  }
  return Or(s.message, "(none yet)");
}

}  // namespace

std::string RenderStatusSummary(const ResourceStatus& s) {
  std::ostringstream o;
  o << "SchemaUpgrade " << s.resource << "\n";
  const Condition* ready = Find(s, "Ready");
  Line(o, "Phase", std::string(PhaseName(s.phase)) +
                       (ready ? "  (Ready=" + ready->status + (ready->reason.empty() ? "" : ", " + ready->reason) + ")"
                              : ""));
  Line(o, "Current version", Or(s.current_version, "(empty)"));
  Line(o, "Target version", Or(s.target_version, "(unknown)"));
  if (!s.image.empty() || !s.previous_image.empty()) {
    Line(o, "Image", Or(s.image, "(none)") +
                         (!s.previous_image.empty() && s.previous_image != s.image ? " (was " + s.previous_image + ")" : ""));
  }
  if (!s.pending.empty()) {
    Line(o, "Pending", std::to_string(s.pending.size()) + " migration(s): " + s.pending.front() +
                           (s.pending.size() > 1 ? " .. " + s.pending.back() : ""));
  }
  if (!s.path_step.empty() || !s.path_done.empty()) {
    std::string path = s.path_step.empty() ? "" : "step " + s.path_step + (s.path_step_started_at.empty() ? " (not started)" : "");
    for (size_t i = 0; i < s.path_done.size(); ++i) {
      path += (i ? ", " : std::string(path.empty() ? "" : "; ") + "done ") + s.path_done[i];
    }
    Line(o, "Upgrade path", path);
  }
  Line(o, "Last step", LastStep(s));
  Line(o, "Next retry", s.next_retry_at.empty() ? "-" : s.next_retry_at + "  (attempt " + std::to_string(s.attempts) + ")");
  if (s.blocked_sessions.empty()) {
    Line(o, "Blocked sessions", "none");
  } else {
    Line(o, "Blocked sessions", std::to_string(s.blocked_sessions.size()));
    for (const auto& b : s.blocked_sessions) {
      o << "  pid " << b.pid << " (" << Or(b.application_name, "?") << ") waiting " << b.waiting_ms << " ms"
        << (b.query.empty() ? "" : ": " + b.query) << "\n";
    }
  }
  if (!s.plan_hash.empty()) Line(o, "Plan hash", s.plan_hash);
  if (!s.message.empty()) Line(o, "Message", s.message);
  if (!s.updated_at.empty()) Line(o, "Updated", s.updated_at);
  return o.str();
}

}  // namespace su
