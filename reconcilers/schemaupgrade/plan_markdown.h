// The plan as a pull-request comment (`plan -o markdown`): what a reviewer of a version bump needs
// on one screen. A summary line (what changes, how many migrations, the lint verdict), the risky
// statements first with their fix, each migration's full statements in a collapsible block (ory
// migrations say where their SQL lives), the steps, and how to approve exactly this plan (its
// hash and the command). Offline plans (`plan --from`) say what they could not know. Pure.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/schemaupgrade/plan.h"

namespace su {

struct PlanCommentOptions {
  // The manifest's path as the reviewer's repository names it, for the approve command
  // (empty: "M.yaml").
  std::string manifest;
  // Computed without a database (plan --from / --offline): the hash is not the one `approve` will
  // compute (it covers the database), and `offline_unknowns` lists what could not be known.
  bool offline = false;
  std::string from_version;                   // offline: the previous targetVersion ("" = new resource)
  std::string from_label;                     // offline: where the previous version came from (git ref)
  std::vector<std::string> offline_unknowns;  // sentences
  // Non-empty: the migrations could not be listed (an ory image not readable offline); the
  // sentence says why, and the summary says "migrations unknown offline", not "no migrations".
  std::string migrations_unknown;
};

std::string RenderPlanComment(const Plan& plan, const PlanCommentOptions& options);

// One line for a comment that holds several plans: "`ns/name`: v1 → v2, 3 migrations, lint: ...".
std::string PlanSummaryLine(const Plan& plan, const PlanCommentOptions& options);

}  // namespace su
