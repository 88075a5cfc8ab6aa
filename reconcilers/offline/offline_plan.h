// Offline plan: what upgrading a SchemaUpgrade from its previous manifest (a git ref or folder,
// see previous_source.h) to the current one will run, computed without any database, for
// version-bump PRs in CI where no production DSN exists.
//
// It assumes the database holds exactly the previous version's migrations:
//  - sql: the previous folder's files count as applied (with their checksums); pending = the
//    current folder's versions the previous one did not have; a file whose bytes changed between
//    the versions is drift (apply will refuse it unless policy.acceptDrift lists it); a version
//    the current folder dropped is "ahead" (a downgrade).
//  - drizzle: the previous journal's entries become the history rows drizzle-orm would have
//    written (hash, created_at = when) and PlanDrizzle decides, exactly as online.
//  - ory: the statements are inside the images. When both images are present locally (podman)
//    and carry popx files at options.ory_migrations_path, they are copied out (podman create +
//    cp, nothing runs) and compared like sql folders; otherwise the migrations are unknown
//    offline and the result says so (real Ory images embed their SQL in the binary).
// Every result lists what an offline plan cannot know (the database's real state, drift of
// applied files, out-of-order or hand-applied versions, pre-flight checks); the plan hash is not
// the one `approve` computes (it covers the database).
#pragma once

#include <string>
#include <vector>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "api/spec.h"
#include "reconcilers/offline/previous_source.h"
#include "reconcilers/schemaupgrade/plan.h"
#include "reconcilers/schemaupgrade/plan_markdown.h"

namespace su {

struct OfflineOptions {
  FileSystem* fs = nullptr;
  ProcessRunner* runner = nullptr;           // podman for ory images
  std::string scratch_dir;                   // for files copied out of images
  std::string ory_migrations_path = "/migrations";
};

struct OfflinePlan {
  Plan plan;
  PlanCommentOptions comment;  // offline = true, from_version, offline_unknowns
  bool migrations_known = true;  // false: ory images not available; plan.state.pending is empty
};

// su: the current manifest's resource (loaded from the current tree). Errors name the manifest
// and the file or image at fault (a previous manifest that does not parse, a migrations folder
// that does not read).
Result<OfflinePlan> PlanOffline(const SchemaUpgrade& su, PreviousSource* previous, const OfflineOptions& options);

}  // namespace su

namespace su {

// `plan --from -o json`: the plan's JSON (plan_json.cc) with "hash" emptied (an offline hash is
// not the one approve computes) and "offline": {"from", "fromVersion", "notKnown": [...],
// "migrationsKnown", "migrationsUnknown"}.
std::string RenderOfflinePlanJson(const OfflinePlan& plan);

}  // namespace su
