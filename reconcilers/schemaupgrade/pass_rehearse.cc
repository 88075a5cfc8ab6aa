// Pass::Rehearse: policy.rehearse (and `plan --rehearse`): the pending migrations run on a scratch
// copy first (reconcilers/rehearsal), after the other gates and before the backup and any change.
// A rehearsal that fails stops the upgrade with its error (Failed, RehearsalFailed) before the
// real database is touched. A plan already rehearsed successfully (status.rehearsal names its
// hash) is not rehearsed again by later passes of the same upgrade; `plan --rehearse` always is.
// policy.rehearseOn names another server for the copy: its DSN is resolved here, through the
// same SecretResolver (and the same env / file / secretKeyRef forms) as spec.database's.
// The ory engine's migrator is rebuilt for the copy's DSN through the same EngineFactory. When the
// DSN is held in a Secret (spec.database.dsnFrom.secretKeyRef: a Kubernetes Job reads it from
// there), the copy's DSN goes into a Secret of the resource's own (RehearsalDsnSecretName, through
// ReconcilerDeps::secret_writer), written right before the copy's migrator is built and deleted
// when the rehearsal ends, however it ends; the copy's engine reads that Secret, never the real one.
#include "api/conditions.h"
#include "reconcilers/base/log.h"
#include "reconcilers/schemaupgrade/pass.h"
#include "reconcilers/schemaupgrade/secret_resolver.h"
#include "reconcilers/schemaupgrade/secret_writer.h"

namespace su::reconcile_internal {
namespace {

// The resolver's messages name spec.database.dsnFrom (the field it resolves); here it resolved
// policy.rehearseOn.dsnFrom, so the message names that.
Status RenameField(const Status& s) {
  std::string m = s.message();
  const std::string from = "spec.database.dsnFrom", to = "spec.policy.rehearseOn.dsnFrom";
  for (size_t at = m.find(from); at != std::string::npos; at = m.find(from, at + to.size())) m.replace(at, from.size(), to);
  return Status::Error(s.code(), m);
}

}  // namespace

StepOutcome Pass::Rehearse() {
  if (!(opt_.rehearse || su_.policy.rehearse) || plan_.state.pending.empty()) return StepOutcome::Succeeded();
  const std::string done = plan_.hash + ": rehearsal ok";
  if (!opt_.rehearse && st_.rehearsal.rfind(done, 0) == 0) return StepOutcome::Succeeded();

  RehearsalOptions o;
  o.scratch.resource = su_.Key();
  if (su_.policy.rehearse_on_set) {
    SchemaUpgrade where = su_;
    where.dsn = su_.policy.rehearse_on;
    Result<std::string> server = d_.secrets ? d_.secrets->ResolveDsn(where)
                                            : NewLocalSecretResolver({d_.fs, d_.getenv, ""})->ResolveDsn(where);
    if (!server.ok()) {
      Status s = RenameField(server.status());
      if (s.code() == Code::kUnavailable) return StepOutcome::RetryAfter(s, reasons::kInvalidDatabaseSource);
      return StepOutcome::Failed(s, reasons::kInvalidDatabaseSource);
    }
    o.scratch.server_dsn = *server;
  }
  // Set once the copy's DSN Secret is (being) written: deleted when the rehearsal ends.
  std::string copy_secret;
  if (engine_->name() == "ory") {
    // The migrator reaches the database with the DSN it is handed: it is rebuilt for the copy's.
    const bool from_secret = su_.dsn.kind == DsnSource::Kind::kSecretKeyRef;
    if (from_secret && !d_.secret_writer) {
      o.engine_for_copy_missing =
          "the ory migrator reads its DSN from the Secret named by spec.database.dsnFrom.secretKeyRef (the real "
          "database's), and this mode cannot write a Secret for the copy's DSN, so the ory engine is not rehearsed";
    } else {
      o.engine_for_copy = [this, from_secret,
                           &copy_secret](const std::string& copy_dsn) -> Result<std::unique_ptr<Engine>> {
        SchemaUpgrade copy = su_;
        if (from_secret) {
          // A Job reads the DSN from a Secret only: the copy's gets one of its own (a leftover of a
          // killed pass is replaced), and the copy's migrator is pointed at it.
          copy_secret = RehearsalDsnSecretName(su_.name);
          Status put = d_.secret_writer->Put(su_, copy_secret, kRehearsalDsnKey, copy_dsn);
          if (!put.ok()) {
            return put.WithContext("writing the copy's DSN into Secret " + su_.namespace_ + "/" + copy_secret);
          }
          copy.dsn.secret_name = copy_secret;
          copy.dsn.secret_key = kRehearsalDsnKey;
        }
        SU_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, d_.make_engine(copy, copy_dsn, target_image_));
        if (path_.stepping) e = CapPendingAt(std::move(e), path_.step.migrations_up_to);
        return e;
      };
    }
  }
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
  if (!copy_secret.empty()) {
    // The copy is gone; so goes its DSN. A Secret that cannot be deleted now holds the DSN of a
    // dropped database: the next rehearsal replaces it, the garbage collector deletes it with the
    // resource. The rehearsal's verdict stands.
    if (Status del = d_.secret_writer->Delete(su_, copy_secret); !del.ok()) {
      LogWarn("rehearsal.secret_left", {{"resource", su_.Key()}, {"secret", su_.namespace_ + "/" + copy_secret},
                                        {"error", del.message()}});
    }
  }
  auto db = d_.connect(dsn_, "schema-upgrade:" + su_.Key());
  if (!db.ok()) return StepOutcome::RetryAfter(db.status(), reasons::kDatabaseUnavailable);
  db_ = std::move(db).value();

  const std::string summary = RehearsalSummary(r);
  plan_.rehearsal = r;
  if (out_.plan) out_.plan->rehearsal = r;
  st_.rehearsal = plan_.hash + ": " + summary;
  LogInfo("rehearsal", {{"resource", su_.Key()}, {"plan", plan_.hash}, {"summary", summary}});
  if (!r.ran || r.ok) return StepOutcome::Succeeded();  // skipped (no Secret writer): said in status and plan
  const std::string next = r.failed_version.empty()
                               ? "; nothing was changed on the real database. Fix what stopped the copy, then run again "
                                 "(`schema-upgrade apply`, or a new value in the olympus.io/retry annotation)"
                               : "; nothing was changed on the real database. Fix the migration (see `schema-upgrade plan "
                                 "--rehearse`), then run again";
  return StepOutcome::Failed(Status::Error(Code::kFailed, summary + next), reasons::kRehearsalFailed);
}

}  // namespace su::reconcile_internal
