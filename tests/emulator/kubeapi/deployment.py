# The Deployment controller, after k8s.io/kubernetes/pkg/controller/deployment: one ReplicaSet per
# pod template (named <deployment>-<pod-template-hash>, the hash label on its selector, template
# and pods; annotations deployment.kubernetes.io/revision, desired-replicas, max-replicas; the
# deployment carries the revision too), the RollingUpdate strategy with the real arithmetic
# (maxSurge rounded up, maxUnavailable rounded down, both 0 means maxUnavailable 1; the new
# ReplicaSet grows up to replicas+maxSurge pods, old ones shrink while availableReplicas stays at
# least replicas-maxUnavailable, unhealthy old replicas first), Recreate (old pods gone before
# the new ReplicaSet scales up), spec.paused (no new ReplicaSet, no rollout; Progressing Unknown
# DeploymentPaused/DeploymentResumed), rollback by template equality (`kubectl rollout undo`
# patches the old template back: that ReplicaSet becomes the new one with the next revision),
# revisionHistoryLimit, and status exactly as syncRolloutStatus writes it: observedGeneration,
# replicas/updatedReplicas/readyReplicas/availableReplicas/unavailableReplicas (omitted when 0),
# Available (MinimumReplicasAvailable/MinimumReplicasUnavailable) and Progressing
# (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
# ProgressDeadlineExceeded once progressDeadlineSeconds pass without progress).
# Simplified: a scaling event on a paused deployment with several active ReplicaSets is not
# spread proportionally; no adoption/orphaning of ReplicaSets by selector; no ReplicaFailure.
import copy
import math

import ctrl_util as u


REV = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
HASH = "pod-template-hash"
SKIP_ANNOTATIONS = {REV, DESIRED, MAX, "deployment.kubernetes.io/revision-history",
                    "kubectl.kubernetes.io/last-applied-configuration"}


def resolve(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        x = int(v[:-1]) * total / 100.0
        return int(math.ceil(x)) if round_up else int(math.floor(x))
    return int(v or 0)


def fenceposts(d):
    spec = d["spec"]
    replicas = spec.get("replicas", 1)
    ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = resolve(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(d):
    return ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def max_unavailable(d):
    replicas = d["spec"].get("replicas", 1)
    if not is_rolling(d) or replicas == 0:
        return 0
    return min(fenceposts(d)[1], replicas)


def max_surge(d):
    return fenceposts(d)[0] if is_rolling(d) else 0


def revision(rs):
    try:
        return int(((rs["metadata"].get("annotations") or {}).get(REV)) or 0)
    except ValueError:
        return 0


def _no_nulls(v):
    # A typed Go client sends zero values as null ("creationTimestamp": null): the real server
    # reads them as unset; compare templates the same way.
    if isinstance(v, dict):
        return {k: _no_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_no_nulls(x) for x in v]
    return v


def strip_hash(template):
    t = _no_nulls(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH, None)
    return t


def spec_replicas(rs):
    return (rs.get("spec") or {}).get("replicas", 1)


def st(rs, field):
    return (rs.get("status") or {}).get(field, 0)


def _created(rs):
    return (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"])


class DeploymentController:
    def sync(self, mgr):
        api = mgr.api
        all_rs = api.list("apps", "replicasets")
        for d in api.list("apps", "deployments"):
            ns = d["metadata"]["namespace"]
            owned = sorted([rs for rs in all_rs if rs["metadata"].get("namespace") == ns and u.controlled_by(rs, d)], key=_created)
            self.sync_one(mgr, d, owned)

    # -- one deployment ------------------------------------------------------------------------
    def sync_one(self, mgr, d, owned):
        api = mgr.api
        spec = d.get("spec") or {}
        if not spec.get("template") or not spec.get("selector"):
            return
        template = spec["template"]
        new_rs = next((rs for rs in owned if strip_hash(rs["spec"].get("template")) == strip_hash(template)), None)
        old = [rs for rs in owned if rs is not new_rs]
        if d["metadata"].get("deletionTimestamp"):
            return self.write_status(mgr, d, owned, new_rs, estimate=False)
        if self.check_paused_conditions(mgr, d):
            return
        paused = bool(spec.get("paused"))
        if new_rs is not None and self.sync_revision(mgr, d, new_rs, old):
            return
        if paused:
            if self.scale_paused(mgr, d, new_rs, old):
                return
            self.cleanup(mgr, d, old)
            return self.write_status(mgr, d, owned, new_rs, estimate=False)
        if is_rolling(d):
            if new_rs is None:
                return self.create_new_rs(mgr, d, old)
            if self.reconcile_new(mgr, d, new_rs, old) or self.reconcile_old(mgr, d, new_rs, old):
                return self.write_status(mgr, d, owned, new_rs)
        else:  # Recreate
            active_old = [rs for rs in old if spec_replicas(rs) > 0]
            if active_old:
                for rs in active_old:
                    self.scale(mgr, d, rs, 0)
                return self.write_status(mgr, d, owned, new_rs)
            if any(st(rs, "replicas") > 0 for rs in old):
                return self.write_status(mgr, d, owned, new_rs)
            if new_rs is None:
                return self.create_new_rs(mgr, d, old)
            if spec_replicas(new_rs) != spec["replicas"]:
                self.scale(mgr, d, new_rs, spec["replicas"])
                return self.write_status(mgr, d, owned, new_rs)
        if self.complete(d, d.get("status") or {}):
            self.cleanup(mgr, d, old)
        self.write_status(mgr, d, owned, new_rs)

    def check_paused_conditions(self, mgr, d):
        spec = d["spec"]
        if spec.get("progressDeadlineSeconds") is None:
            return False
        status = copy.deepcopy(d.get("status") or {})
        cond = u.get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return False
        paused_exists = cond is not None and cond.get("reason") == "DeploymentPaused"
        if spec.get("paused") and not paused_exists:
            u.set_condition(status, u.condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", True))
        elif not spec.get("paused") and paused_exists:
            u.set_condition(status, u.condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", True))
        else:
            return False
        d2 = copy.deepcopy(d)
        d2["status"] = status
        mgr.api.update("apps", "deployments", d2, status=True)
        return True

    def sync_revision(self, mgr, d, new_rs, old):
        """The existing new ReplicaSet's annotations (a rollback gives it the next revision) and
        the deployment's revision annotation; True when it wrote something."""
        api = mgr.api
        new_rev = max([revision(rs) for rs in old] + [0]) + 1
        rs = copy.deepcopy(new_rs)
        ann = rs["metadata"].setdefault("annotations", {})
        if revision(new_rs) < new_rev:
            ann[REV] = str(new_rev)
        ann[DESIRED] = str(d["spec"].get("replicas", 1))
        ann[MAX] = str(d["spec"].get("replicas", 1) + max_surge(d))
        mrs = d["spec"].get("minReadySeconds", 0)
        if rs["spec"].get("minReadySeconds", 0) != mrs:
            rs["spec"]["minReadySeconds"] = mrs
        if rs != new_rs:
            api.update("apps", "replicasets", rs)
            return True
        if self.set_deployment_revision(mgr, d, ann[REV]):
            return True
        if d["spec"].get("progressDeadlineSeconds") is not None and u.get_condition(d.get("status"), "Progressing") is None:
            status = copy.deepcopy(d.get("status") or {})
            u.set_condition(status, u.condition("Progressing", "True", "FoundNewReplicaSet",
                                                'Found new replica set "%s"' % new_rs["metadata"]["name"], True))
            d2 = copy.deepcopy(d)
            d2["status"] = status
            api.update("apps", "deployments", d2, status=True)
            return True
        return False

    def set_deployment_revision(self, mgr, d, rev):
        ann = d["metadata"].get("annotations") or {}
        if ann.get(REV) == rev:
            return False
        d2 = copy.deepcopy(d)
        d2["metadata"].setdefault("annotations", {})[REV] = rev
        mgr.api.update("apps", "deployments", d2)
        return True

    def create_new_rs(self, mgr, d, old):
        api = mgr.api
        spec = d["spec"]
        name = d["metadata"]["name"]
        ns = d["metadata"]["namespace"]
        h = u.compute_hash(strip_hash(spec["template"]), (d.get("status") or {}).get("collisionCount"))
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = h
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})[HASH] = h
        rev = str(max([revision(rs) for rs in old] + [0]) + 1)
        ann = {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k not in SKIP_ANNOTATIONS}
        replicas = spec["replicas"]
        ann.update({DESIRED: str(replicas), MAX: str(replicas + max_surge(d)), REV: rev})
        if is_rolling(d):
            current = sum(spec_replicas(rs) for rs in old)
            count = max(0, min(replicas + max_surge(d) - current, replicas))
        else:
            count = replicas
        rs_name = "%s-%s" % (name, h)
        labels = dict(template["metadata"]["labels"])
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": rs_name, "namespace": ns, "labels": labels, "annotations": ann,
                           "ownerReferences": [u.owner_ref(d, "apps/v1", "Deployment")]},
              "spec": {"replicas": count, "minReadySeconds": spec.get("minReadySeconds", 0),
                       "selector": selector, "template": template}}
        if not rs["spec"]["minReadySeconds"]:
            del rs["spec"]["minReadySeconds"]
        if api.get("apps", "replicasets", ns, rs_name) is not None:
            # A hash collision with a ReplicaSet of another template: bump collisionCount.
            d2 = copy.deepcopy(d)
            d2.setdefault("status", {})["collisionCount"] = (d2["status"].get("collisionCount") or 0) + 1
            api.update("apps", "deployments", d2, status=True)
            return
        if api.create("apps", "replicasets", ns, rs) is None:
            return
        u.record_event(api, d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d" % (rs_name, count),
                      "deployment-controller")
        if spec.get("progressDeadlineSeconds") is not None:
            status = copy.deepcopy(d.get("status") or {})
            u.set_condition(status, u.condition("Progressing", "True", "NewReplicaSetCreated",
                                                'Created new replica set "%s"' % rs_name, True))
            d2 = copy.deepcopy(d)
            d2["status"] = status
            api.update("apps", "deployments", d2, status=True)

    def scale(self, mgr, d, rs, n):
        old_n = spec_replicas(rs)
        rs2 = copy.deepcopy(rs)
        rs2["spec"]["replicas"] = n
        ann = rs2["metadata"].setdefault("annotations", {})
        ann[DESIRED] = str(d["spec"].get("replicas", 1))
        ann[MAX] = str(d["spec"].get("replicas", 1) + max_surge(d))
        if mgr.api.update("apps", "replicasets", rs2) is not None and old_n != n:
            u.record_event(mgr.api, d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d" % (
                "up" if n > old_n else "down", rs["metadata"]["name"], old_n, n), "deployment-controller")

    def scale_paused(self, mgr, d, new_rs, old):
        replicas = d["spec"].get("replicas", 1)
        active = [rs for rs in ([new_rs] if new_rs else []) + old if spec_replicas(rs) > 0]
        target = new_rs if new_rs is not None and not active else (active[0] if len(active) == 1 else None)
        if target is not None and spec_replicas(target) != replicas:
            self.scale(mgr, d, target, replicas)
            return True
        return False

    def reconcile_new(self, mgr, d, new_rs, old):
        replicas = d["spec"]["replicas"]
        cur = spec_replicas(new_rs)
        if cur == replicas:
            return False
        if cur > replicas:
            self.scale(mgr, d, new_rs, replicas)
            return True
        total = cur + sum(spec_replicas(rs) for rs in old)
        max_total = replicas + max_surge(d)
        if total >= max_total:
            return False
        n = cur + min(max_total - total, replicas - cur)
        self.scale(mgr, d, new_rs, n)
        return True

    def reconcile_old(self, mgr, d, new_rs, old):
        if sum(spec_replicas(rs) for rs in old) == 0:
            return False
        replicas = d["spec"]["replicas"]
        all_pods = spec_replicas(new_rs) + sum(spec_replicas(rs) for rs in old)
        min_available = replicas - max_unavailable(d)
        new_unavailable = spec_replicas(new_rs) - st(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        scaled = False
        # cleanupUnhealthyReplicas: old replicas that are not available go first.
        cleaned = 0
        for rs in sorted(old, key=_created):
            if cleaned >= max_scaled_down:
                break
            n = spec_replicas(rs)
            unhealthy = n - st(rs, "availableReplicas")
            if n == 0 or unhealthy <= 0:
                continue
            down = min(max_scaled_down - cleaned, unhealthy)
            self.scale(mgr, d, rs, n - down)
            rs["spec"]["replicas"] = n - down
            cleaned += down
            scaled = True
        # scaleDownOldReplicaSetsForRollingUpdate
        available = st(new_rs, "availableReplicas") + sum(st(rs, "availableReplicas") for rs in old)
        if available > min_available:
            total_down = available - min_available
            done = 0
            for rs in sorted(old, key=_created):
                if done >= total_down:
                    break
                n = spec_replicas(rs)
                if n == 0:
                    continue
                down = min(n, total_down - done)
                self.scale(mgr, d, rs, n - down)
                done += down
                scaled = True
        return scaled

    def cleanup(self, mgr, d, old):
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        dead = [rs for rs in old if spec_replicas(rs) == 0 and st(rs, "replicas") == 0
                and not rs["metadata"].get("deletionTimestamp")]
        dead.sort(key=revision)
        for rs in dead[:max(0, len(dead) - limit)]:
            mgr.api.delete("apps", "replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], u.uid(rs))

    # -- status ----------------------------------------------------------------------------------
    @staticmethod
    def complete(d, status):
        r = d["spec"].get("replicas", 1)
        return (status.get("updatedReplicas", 0) == r and status.get("replicas", 0) == r
                and status.get("availableReplicas", 0) == r
                and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))

    def calculate(self, d, owned, new_rs):
        old_status = d.get("status") or {}
        available = sum(st(rs, "availableReplicas") for rs in owned)
        total = sum(spec_replicas(rs) for rs in owned)
        status = u.omit_zero({
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(st(rs, "replicas") for rs in owned),
            "updatedReplicas": st(new_rs, "replicas") if new_rs is not None else 0,
            "readyReplicas": sum(st(rs, "readyReplicas") for rs in owned),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available),
        })
        if old_status.get("conditions"):
            status["conditions"] = copy.deepcopy(old_status["conditions"])
        if old_status.get("collisionCount") is not None:
            status["collisionCount"] = old_status["collisionCount"]
        if available >= d["spec"].get("replicas", 1) - max_unavailable(d):
            u.set_condition(status, u.condition("Available", "True", "MinimumReplicasAvailable",
                                                "Deployment has minimum availability.", True))
        else:
            u.set_condition(status, u.condition("Available", "False", "MinimumReplicasUnavailable",
                                                "Deployment does not have minimum availability.", True))
        return status

    def write_status(self, mgr, d, owned, new_rs, estimate=True):
        old_status = d.get("status") or {}
        status = self.calculate(d, owned, new_rs)
        pds = d["spec"].get("progressDeadlineSeconds")
        if estimate:
            if pds is None:
                u.remove_condition(status, "Progressing")
            cur = u.get_condition(old_status, "Progressing")
            done = status.get("replicas", 0) == status.get("updatedReplicas", 0) and cur is not None \
                and cur.get("reason") == "NewReplicaSetAvailable"
            if pds is not None and not done:
                rs_name = new_rs["metadata"]["name"] if new_rs is not None else None
                if self.complete(d, status):
                    msg = ('ReplicaSet "%s" has successfully progressed.' % rs_name) if rs_name else \
                        ('Deployment "%s" has successfully progressed.' % d["metadata"]["name"])
                    u.set_condition(status, u.condition("Progressing", "True", "NewReplicaSetAvailable", msg, True))
                elif self.progressing(old_status, status):
                    msg = ('ReplicaSet "%s" is progressing.' % rs_name) if rs_name else \
                        ('Deployment "%s" is progressing.' % d["metadata"]["name"])
                    c = u.condition("Progressing", "True", "ReplicaSetUpdated", msg, True)
                    if cur is not None and cur.get("status") == "True":
                        c["lastTransitionTime"] = cur["lastTransitionTime"]
                    u.remove_condition(status, "Progressing")
                    u.set_condition(status, c)
                elif self.timed_out(d, status):
                    msg = ('ReplicaSet "%s" has timed out progressing.' % rs_name) if rs_name else \
                        ('Deployment "%s" has timed out progressing.' % d["metadata"]["name"])
                    u.set_condition(status, u.condition("Progressing", "False", "ProgressDeadlineExceeded", msg, True))
                else:
                    left = self.deadline_left(d, status)
                    if left is not None:
                        mgr.requeue_after(left + 0.05)
        if status != old_status:
            d2 = copy.deepcopy(d)
            d2["status"] = status
            mgr.api.update("apps", "deployments", d2, status=True)

    @staticmethod
    def progressing(old, new):
        old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
        new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
        return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
                or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
                or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))

    @staticmethod
    def deadline_left(d, status):
        c = u.get_condition(status, "Progressing")
        if c is None or c.get("reason") in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
            return None
        since = u.seconds_since(c.get("lastUpdateTime"))
        if since is None:
            return None
        return d["spec"]["progressDeadlineSeconds"] - since

    def timed_out(self, d, status):
        c = u.get_condition(status, "Progressing")
        if c is None or c.get("reason") == "NewReplicaSetAvailable":
            return False
        if c.get("reason") == "ProgressDeadlineExceeded":
            return True
        left = self.deadline_left(d, status)
        return left is not None and left < 0
