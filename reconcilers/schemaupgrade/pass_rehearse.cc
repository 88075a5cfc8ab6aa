// Pass::Rehearse: policy.rehearse (and `plan --rehearse`): the pending migrations run on a scratch
// copy first (reconcilers/rehearsal), after the other gates and before the backup and any change.
// A rehearsal that fails stops the upgrade with its error (Failed, RehearsalFailed) before the
// real database is touched. A plan already rehearsed successfully (status.rehearsal names its
// hash) is not rehearsed again by later passes of the same upgrade; `plan --rehearse` always is.
#include "api/conditions.h"
#include "reconcilers/base/log.h"
#include "reconcilers/schemaupgrade/pass.h"

namespace su::reconcile_internal {

StepOutcome Pass::Rehearse() {
  if (!(opt_.rehearse || su_.policy.rehearse) || plan_.state.pending.empty()) return StepOutcome::Succeeded();
  const std::string done = plan_.hash + ": rehearsal ok";
  if (!opt_.rehearse && st_.rehearsal.rfind(done, 0) == 0) return StepOutcome::Succeeded();

  RehearsalOptions o;
  o.scratch.resource = su_.Key();
  RunContext ctx;
  ctx.resource = su_.Key();
  ctx.lock_timeout = su_.policy.lock_timeout;
  ctx.statement_timeout = su_.policy.statement_timeout;
  ctx.accept_drift = su_.policy.accept_drift;
  ctx.clock = d_.clock;
  ctx.cancelled = d_.cancelled;
  ctx.approved = plan_.state.pending;  // exactly the planned migrations
  // Our own session on the source would keep CREATE DATABASE ... TEMPLATE away (a pooled one may
  // stay open: then the copy is a dump); reconnected right after.
  db_.reset();
  RehearsalReport r = d_.rehearse ? d_.rehearse(engine_.get(), dsn_, o, ctx) : su::Rehearse(engine_.get(), dsn_, o, ctx);
  auto db = d_.connect(dsn_, "schema-upgrade:" + su_.Key());
  if (!db.ok()) return StepOutcome::RetryAfter(db.status(), reasons::kDatabaseUnavailable);
  db_ = std::move(db).value();

  const std::string summary = RehearsalSummary(r);
  plan_.rehearsal = r;
  if (out_.plan) out_.plan->rehearsal = r;
  st_.rehearsal = plan_.hash + ": " + summary;
  LogInfo("rehearsal", {{"resource", su_.Key()}, {"plan", plan_.hash}, {"summary", summary}});
  if (!r.ran || r.ok) return StepOutcome::Succeeded();  // skipped (ory): said in status and plan
  const std::string next = r.failed_version.empty()
                               ? "; nothing was changed on the real database. Fix what stopped the copy, then run again "
                                 "(schema-upgrade apply --force, or the olympus.io/retry annotation)"
                               : "; nothing was changed on the real database. Fix the migration (see `schema-upgrade plan "
                                 "--rehearse`), then run again";
  return StepOutcome::Failed(Status::Error(Code::kFailed, summary + next), reasons::kRehearsalFailed);
}

}  // namespace su::reconcile_internal
