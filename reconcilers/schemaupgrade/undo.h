// What one undo step of policy.onFailure did (rollbackImage, runDown, restoreBackup, and the
// combined `rollback` made of them), as a value: the combined rollback decides what to do next
// from `kind`, never by searching the sentence. `message` is the sentence for
// status.failureAction, unchanged from what each step always wrote.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace su::reconcile_internal {

enum class UndoKind {
  kNothingToUndo,      // nothing of this kind had changed (image not bumped, no migration applied)
  kImageRestored,      // the workload declares the old image again (its rollout may not be up yet)
  kSchemaByDownFiles,  // the down migrations of what this upgrade applied ran
  kSchemaByBackup,     // the pre-upgrade backup was restored
  kRefused,            // a check refused before anything changed (no down file, rows written since
                       // the backup, no backup taken): another way may still be tried
  kFailed,             // tried and failed; `changed_nothing` says whether it got anywhere first
};

inline const char* UndoKindName(UndoKind k) {
  switch (k) {
    case UndoKind::kNothingToUndo: return "nothing-to-undo";
    case UndoKind::kImageRestored: return "image-restored";
    case UndoKind::kSchemaByDownFiles: return "schema-restored-by-down-files";
    case UndoKind::kSchemaByBackup: return "schema-restored-by-backup";
    case UndoKind::kRefused: return "refused";
    case UndoKind::kFailed: return "failed";
  }
  return "unknown";
}

struct UndoOutcome {
  UndoKind kind = UndoKind::kNothingToUndo;
  std::string message;          // the sentence for status.failureAction ("" when there is nothing to say)
  std::string reason;           // kRefused / kFailed: why, in a few words (the error's text)
  bool changed_nothing = true;  // kRefused / kFailed: the world is as before this step
  bool came_up = true;          // kImageRestored: the old image's rollout came up in time

  bool ok() const { return kind != UndoKind::kRefused && kind != UndoKind::kFailed; }

  static UndoOutcome Done(UndoKind k, std::string message) {
    UndoOutcome o;
    o.kind = k;
    o.message = std::move(message);
    return o;
  }
  static UndoOutcome NotDone(UndoKind k, std::string message, std::string reason, bool changed_nothing) {
    UndoOutcome o;
    o.kind = k;
    o.message = std::move(message);
    o.reason = std::move(reason);
    o.changed_nothing = changed_nothing;
    return o;
  }
};

// The combined rollback (onFailure rollback): the image step, then the schema step (when it ran).
struct CombinedRollback {
  UndoOutcome image;
  UndoOutcome schema;        // kNothingToUndo when no migration of this upgrade had run
  bool schema_tried = false;  // false: left alone (the image could not be put back)
  std::string message;        // for status.failureAction

  bool ok() const { return image.ok() && schema_tried && schema.ok(); }
};

// What the audit log holds of one combined rollback (the rows after status.undo's auditFrom /
// engineAuditFrom), read by a pass resuming it after a kill: a committed step has its row there
// even when the killed process had not recorded it in status (the restore's row commits with the
// restore; each down file's row with its down file).
struct UndoSeen {
  bool started = false;          // "rollback started"
  bool image = false;            // "rollback-image succeeded"
  bool restored = false;         // "restore succeeded"
  std::string restore_path;      // its detail: the backup restored
  std::vector<std::string> downs;  // "down succeeded" versions, oldest first (the engine's log)
  bool ended = false;            // "rollback succeeded|failed" (the schema step's end row)
  bool on_failure = false;       // "on-failure"
};

}  // namespace su::reconcile_internal
