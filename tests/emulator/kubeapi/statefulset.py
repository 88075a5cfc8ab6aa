# The StatefulSet controller, after k8s.io/kubernetes/pkg/controller/statefulset: one
# ControllerRevision per pod template (named <set>-<hash>, data the template as a replace patch,
# revision numbers increasing; a template seen before gets the next number again), pods named
# <set>-0..N-1 with the labels controller-revision-hash (the revision's name),
# statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index, hostname and subdomain
# (spec.serviceName). podManagementPolicy OrderedReady creates pods one at a time in ordinal order,
# each after the one before is Running and Ready (and available for minReadySeconds), and removes
# surplus pods from the highest ordinal down; Parallel does not wait. updateStrategy RollingUpdate
# replaces pods whose revision is not the update revision one at a time from the highest ordinal
# down to rollingUpdate.partition, once every pod is ready; pods below the partition are
# (re)created at the current revision; OnDelete replaces only pods someone deleted. Status:
# observedGeneration, replicas, readyReplicas, availableReplicas, currentReplicas,
# updatedReplicas, currentRevision, updateRevision (currentRevision becomes updateRevision when
# every pod is updated and ready), collisionCount.
# Simplified: volumeClaimTemplates create no PersistentVolumeClaims; maxUnavailable is always 1;
# revisionHistoryLimit does not prune ControllerRevisions.
import copy

import ctrl_util as u
from deployment import _no_nulls
from replicaset import pod_from_template

HASH_LABEL = "controller-revision-hash"


def ordinal(sts, pod):
    prefix = sts["metadata"]["name"] + "-"
    n = pod["metadata"]["name"]
    if n.startswith(prefix) and n[len(prefix):].isdigit():
        return int(n[len(prefix):])
    return None


def cr_template(cr):
    t = copy.deepcopy(((cr.get("data") or {}).get("spec") or {}).get("template") or {})
    t.pop("$patch", None)
    return t


class StatefulSetController:
    def sync(self, mgr):
        api = mgr.api
        crs = api.list("apps", "controllerrevisions")
        pods = api.list("", "pods")
        for sts in api.list("apps", "statefulsets"):
            ns = sts["metadata"]["namespace"]
            self.sync_one(mgr, sts,
                          [c for c in crs if c["metadata"].get("namespace") == ns and u.controlled_by(c, sts)],
                          [p for p in pods if p["metadata"].get("namespace") == ns and u.controlled_by(p, sts)])

    def sync_one(self, mgr, sts, crs, pods):
        api = mgr.api
        spec = sts.get("spec") or {}
        name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
        if not spec.get("template") or not spec.get("selector"):
            return
        template = _no_nulls(spec["template"])
        h = u.compute_hash(template, (sts.get("status") or {}).get("collisionCount"))
        update_rev = "%s-%s" % (name, h)
        by_name = {c["metadata"]["name"]: c for c in crs}
        max_rev = max([c.get("revision", 0) for c in crs] + [0])
        cr = by_name.get(update_rev)
        if cr is None:
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            labels["controller.kubernetes.io/hash"] = h
            data_t = copy.deepcopy(template)
            data_t["$patch"] = "replace"
            api.create("apps", "controllerrevisions", ns, {
                "apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": update_rev, "namespace": ns, "labels": labels,
                             "ownerReferences": [u.owner_ref(sts, "apps/v1", "StatefulSet")]},
                "data": {"spec": {"template": data_t}}, "revision": max_rev + 1})
            return
        if cr.get("revision", 0) < max_rev and (sts.get("status") or {}).get("updateRevision") != update_rev:
            cr2 = copy.deepcopy(cr)
            cr2["revision"] = max_rev + 1
            api.update("apps", "controllerrevisions", cr2)
            return
        old_status = sts.get("status") or {}
        current_rev = old_status.get("currentRevision") or update_rev
        if current_rev not in by_name:
            current_rev = update_rev
        replicas = spec.get("replicas", 1)
        strategy = spec.get("updateStrategy") or {}
        rolling = (strategy.get("type") or "RollingUpdate") == "RollingUpdate"
        partition = ((strategy.get("rollingUpdate") or {}).get("partition") or 0) if rolling else 0
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        mrs = spec.get("minReadySeconds", 0)
        by_ord = {}
        for p in pods:
            o = ordinal(sts, p)
            if o is not None:
                by_ord[o] = p

        def healthy(p):
            return (p.get("status") or {}).get("phase") == "Running" and u.pod_available(p, mrs)

        if not sts["metadata"].get("deletionTimestamp"):
            acted = False
            for i in range(replicas):
                p = by_ord.get(i)
                if p is None:
                    rev = current_rev if rolling and i < partition else update_rev
                    self.create_pod(mgr, sts, by_name[rev], rev, i)
                    acted = True
                    if ordered:
                        break
                    continue
                if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    api.delete("", "pods", ns, p["metadata"]["name"], u.uid(p))
                    acted = True
                    if ordered:
                        break
                    continue
                if ordered and not healthy(p):
                    left = u.available_in(p, mrs)
                    if left is not None:
                        mgr.requeue_after(left + 0.05)
                    acted = True
                    break
            condemned = sorted((o for o in by_ord if o >= replicas), reverse=True)
            if condemned and not acted:
                p = by_ord[condemned[0]]
                api.delete("", "pods", ns, p["metadata"]["name"], u.uid(p))
                acted = True
            if rolling and not acted and all(i in by_ord and healthy(by_ord[i]) for i in range(replicas)):
                for i in range(replicas - 1, partition - 1, -1):
                    p = by_ord[i]
                    if (p["metadata"].get("labels") or {}).get(HASH_LABEL) != update_rev:
                        api.delete("", "pods", ns, p["metadata"]["name"], u.uid(p))
                        break

        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        rev_of = lambda p: (p["metadata"].get("labels") or {}).get(HASH_LABEL)
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": sum(1 for p in live if u.pod_ready(p)),
            "currentReplicas": sum(1 for p in live if rev_of(p) == current_rev),
            "updatedReplicas": sum(1 for p in live if rev_of(p) == update_rev),
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": old_status.get("collisionCount", 0),
            "availableReplicas": sum(1 for p in live if u.pod_available(p, mrs)),
        }
        if rolling and status["updatedReplicas"] == status["replicas"] == replicas and status["readyReplicas"] == replicas:
            status["currentRevision"] = update_rev
            status["currentReplicas"] = status["updatedReplicas"]
        status = u.omit_zero(status, keep=("replicas", "availableReplicas", "collisionCount"))
        if status != old_status:
            s2 = copy.deepcopy(sts)
            s2["status"] = status
            api.update("apps", "statefulsets", s2, status=True)

    def create_pod(self, mgr, sts, cr, rev, i):
        name = "%s-%d" % (sts["metadata"]["name"], i)
        p = pod_from_template(cr_template(cr), sts, "apps/v1", "StatefulSet", name=name,
                              extra_labels={HASH_LABEL: rev, "statefulset.kubernetes.io/pod-name": name,
                                            "apps.kubernetes.io/pod-index": str(i)})
        p["spec"]["hostname"] = name
        if sts["spec"].get("serviceName"):
            p["spec"]["subdomain"] = sts["spec"]["serviceName"]
        if mgr.api.create("", "pods", sts["metadata"]["namespace"], p) is not None:
            u.record_event(mgr.api, sts, "Normal", "SuccessfulCreate", "create Pod %s in StatefulSet %s successful" % (
                name, sts["metadata"]["name"]), "statefulset-controller")
