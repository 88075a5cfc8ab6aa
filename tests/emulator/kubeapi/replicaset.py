# The ReplicaSet controller, after k8s.io/kubernetes/pkg/controller/replicaset: keeps
# spec.replicas active pods (not terminating, not Succeeded/Failed) owned by the ReplicaSet
# (controller ownerReference), creating them from the template (generateName "<rs>-", the
# template's labels and annotations) and deleting the least useful first when there are too many
# (not ready before ready, newer before older); status replicas, fullyLabeledReplicas,
# readyReplicas, availableReplicas (ready for spec.minReadySeconds) and observedGeneration.
# Simplified: no adoption of orphan pods matching the selector, no slow-start batches, no
# ReplicaFailure condition.
import copy

import ctrl_util as u


def pods_for(pods, owner):
    ns = owner["metadata"]["namespace"]
    return [p for p in pods if p["metadata"].get("namespace") == ns and u.controlled_by(p, owner)]


def pod_from_template(template, owner, api_version, kind, name=None, generate_name=None, extra_labels=None):
    tm = (template or {}).get("metadata") or {}
    meta = {"namespace": owner["metadata"]["namespace"],
            "labels": dict(tm.get("labels") or {}),
            "ownerReferences": [u.owner_ref(owner, api_version, kind)]}
    if extra_labels:
        meta["labels"].update(extra_labels)
    if tm.get("annotations"):
        meta["annotations"] = dict(tm["annotations"])
    if tm.get("finalizers"):
        meta["finalizers"] = list(tm["finalizers"])
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or owner["metadata"]["name"] + "-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy((template or {}).get("spec") or {})}


class ReplicaSetController:
    def sync(self, mgr):
        api = mgr.api
        pods = api.list("", "pods")
        for rs in api.list("apps", "replicasets"):
            self.sync_one(mgr, rs, pods_for(pods, rs))

    def sync_one(self, mgr, rs, owned):
        api = mgr.api
        spec = rs.get("spec") or {}
        want = spec.get("replicas", 1)
        active = [p for p in owned if u.pod_active(p)]
        if not rs["metadata"].get("deletionTimestamp"):
            diff = len(active) - want
            if diff < 0:
                for _ in range(-diff):
                    p = pod_from_template(spec.get("template"), rs, "apps/v1", "ReplicaSet")
                    created = api.create("", "pods", rs["metadata"]["namespace"], p)
                    if created is not None:
                        u.record_event(api, rs, "Normal", "SuccessfulCreate", "Created pod: %s" % created["metadata"]["name"],
                                       "replicaset-controller")
            elif diff > 0:
                # Not ready first; among equals the newest first.
                ranked = sorted(active, key=lambda p: (u.pod_ready(p), _neg_time(p)))
                for p in ranked[:diff]:
                    if api.delete("", "pods", p["metadata"]["namespace"], p["metadata"]["name"], u.uid(p)) is not None:
                        u.record_event(api, rs, "Normal", "SuccessfulDelete", "Deleted pod: %s" % p["metadata"]["name"],
                                       "replicaset-controller")
        mrs = spec.get("minReadySeconds", 0)
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        status = u.omit_zero({
            "replicas": len(active),
            "fullyLabeledReplicas": sum(1 for p in active if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in tlabels.items())),
            "readyReplicas": sum(1 for p in active if u.pod_ready(p)),
            "availableReplicas": sum(1 for p in active if u.pod_available(p, mrs)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }, keep=("replicas",))
        for p in active:
            left = u.available_in(p, mrs)
            if left is not None:
                mgr.requeue_after(left + 0.05)
        old = rs.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if status != old:
            rs2 = copy.deepcopy(rs)
            rs2["status"] = status
            api.update("apps", "replicasets", rs2, status=True)


def _neg_time(p):
    # Newer pods sort first: invert the timestamp's characters' order via a tuple of negatives.
    return tuple(-ord(c) for c in p["metadata"].get("creationTimestamp", ""))
