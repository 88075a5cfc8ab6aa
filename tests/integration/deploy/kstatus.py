# kstatus's generic rules (sigs.k8s.io/cli-utils/pkg/kstatus/status: Compute, checkGenericProperties,
# checkGeneration) for a custom resource, which is how Flux's health checks (kustomize-controller,
# `flux` CLI) read a SchemaUpgrade with no customisation. Only the rules that apply to a kind
# without built-in rules are here; the order is kstatus's:
#   1. metadata.deletionTimestamp set                       -> Terminating
#   2. status.observedGeneration present and != generation  -> InProgress (LatestGenerationNotObserved)
#   3. the first condition Reconciling=True or Stalled=True -> InProgress / Failed
#   4. otherwise                                            -> Current ("Resource is current")
# Note rule 4: an object without status is Current, and so is one with Ready=False but neither
# Reconciling nor Stalled True. That is why the controller writes status on its first reconcile
# and keeps Reconciling=True while it waits for an approval or a window.
IN_PROGRESS = "InProgress"
FAILED = "Failed"
CURRENT = "Current"
TERMINATING = "Terminating"


def compute(obj):
    """Returns (status, message) as kstatus's status.Compute does for a custom resource."""
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return TERMINATING, "Resource scheduled for deletion"
    status = obj.get("status") or {}
    generation = meta.get("generation")
    if generation is not None and "observedGeneration" in status:
        if status["observedGeneration"] != generation:
            return IN_PROGRESS, "%s generation is %d, but latest observed generation is %d" % (
                obj.get("kind"), generation, status["observedGeneration"])
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Reconciling" and cond.get("status") == "True":
            return IN_PROGRESS, cond.get("message", "")
        if cond.get("type") == "Stalled" and cond.get("status") == "True":
            return FAILED, cond.get("message", "")
    return CURRENT, "Resource is current"
