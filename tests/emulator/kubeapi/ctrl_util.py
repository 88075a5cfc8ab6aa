# Helpers shared by the emulator's controllers (controllers.py and the per-kind files): times in
# the API's RFC 3339 form, owner references, conditions the way k8s.io/kubernetes sets them
# (lastTransitionTime kept while the status does not change), the pod-template hash
# (controller.ComputeHash: FNV-32a then rand.SafeEncodeString), pod readiness/availability, and
# store access that swallows the conflicts a level-triggered controller simply retries next pass.
import copy
import datetime
import json
import time

from store import ApiError

MANAGER = "kube-controller-manager"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_dt():
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(dt=None):
    return (dt or now_dt()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    if not s:
        return None
    try:
        return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def seconds_since(s):
    t = parse_time(s)
    return None if t is None else (now_dt() - t).total_seconds()


def uid(o):
    return o["metadata"]["uid"]


def meta(o):
    return o.setdefault("metadata", {})


def controller_of(o):
    for r in (o.get("metadata") or {}).get("ownerReferences") or []:
        if r.get("controller"):
            return r
    return None


def controlled_by(o, owner):
    r = controller_of(o)
    return r is not None and r.get("uid") == uid(owner)


def owner_ref(owner, api_version, kind):
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"], "uid": uid(owner),
            "controller": True, "blockOwnerDeletion": True}


def fnv32a(data):
    h = 0x811c9dc5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xffffffff
    return h


def compute_hash(template, collision_count=None):
    """controller.ComputeHash: a stable short hash of a pod template (labels without the hash)."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    if collision_count:
        text += str(collision_count)
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in str(fnv32a(text.encode())))


def get_condition(status, typ):
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == typ:
            return c
    return None


def set_condition(status, cond, update_time=True):
    """SetDeploymentCondition/SetJobCondition: nothing when status and reason are unchanged; the
    lastTransitionTime survives while the status is the same; the condition moves to the end."""
    cur = get_condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond.get("reason"):
        return False
    if cur is not None and cur.get("status") == cond["status"] and "lastTransitionTime" in cur:
        cond["lastTransitionTime"] = cur["lastTransitionTime"]
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]
    return True


def remove_condition(status, typ):
    if get_condition(status, typ) is None:
        return
    status["conditions"] = [c for c in status["conditions"] if c.get("type") != typ]
    if not status["conditions"]:
        del status["conditions"]


def condition(typ, status, reason, message, with_update_time=False):
    now = rfc3339()
    c = {"type": typ, "status": status}
    if with_update_time:
        c["lastUpdateTime"] = now
    c["lastTransitionTime"] = now
    c["reason"] = reason
    c["message"] = message
    return c


def omit_zero(d, keep=()):
    """Go's omitempty for the counters of a status (keep: fields without omitempty)."""
    return {k: v for k, v in d.items() if (v not in (0, None, [], {}, "") or k in keep) and v is not None}


# -- pods ----------------------------------------------------------------------------------------

def pod_active(p):
    return not p["metadata"].get("deletionTimestamp") and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def pod_ready(p):
    c = get_condition(p.get("status"), "Ready")
    return c is not None and c.get("status") == "True"


def pod_available(p, min_ready_seconds, now=None):
    """podutil.IsPodAvailable: ready for at least minReadySeconds."""
    if not pod_ready(p):
        return False
    if not min_ready_seconds:
        return True
    c = get_condition(p.get("status"), "Ready")
    t = parse_time(c.get("lastTransitionTime"))
    if t is None:
        return False
    return (t + datetime.timedelta(seconds=min_ready_seconds)) <= (now or now_dt())


def available_in(p, min_ready_seconds):
    """Seconds until a ready pod becomes available (None when it is not ready or already is)."""
    if not pod_ready(p) or not min_ready_seconds:
        return None
    t = parse_time(get_condition(p.get("status"), "Ready").get("lastTransitionTime"))
    if t is None:
        return None
    left = (t + datetime.timedelta(seconds=min_ready_seconds) - now_dt()).total_seconds()
    return left if left > 0 else None


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels, matchExpressions) against a label map; an empty selector
    matches nothing (as for workloads)."""
    if not selector:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


# -- store access --------------------------------------------------------------------------------

class Api:
    """Typed, conflict-tolerant access to the store for controllers."""

    def __init__(self, store):
        self.store = store

    def t(self, group, resource, version="v1"):
        return self.store.find_type(group, version, resource)

    def list(self, group, resource, ns=""):
        t = self.t(group, resource)
        return self.store.list(t, ns)[0] if t else []

    def get(self, group, resource, ns, name):
        try:
            return self.store.get(self.t(group, resource), ns, name)
        except ApiError:
            return None

    def create(self, group, resource, ns, obj, manager=MANAGER):
        try:
            return self.store.create(self.t(group, resource), ns, obj, manager)
        except ApiError as e:
            if e.code not in (404, 409):
                raise
            return None

    def update(self, group, resource, obj, manager=MANAGER, status=False):
        """Writes obj (carrying the resourceVersion it was read at); None on a conflict or when it
        is gone: the next pass sees the newer object and tries again."""
        m = obj["metadata"]
        try:
            return self.store.update(self.t(group, resource), m.get("namespace", ""), m["name"], obj, manager,
                                     "status" if status else None, require_rv=False)
        except ApiError as e:
            if e.code not in (404, 409, 422):
                raise
            return None

    def delete(self, group, resource, ns, name, uid_=None):
        try:
            return self.store.delete(self.t(group, resource), ns, name, preconditions={"uid": uid_} if uid_ else None)
        except ApiError:
            return None


def clone(o):
    return copy.deepcopy(o)


def monotonic():
    return time.monotonic()


def record_event(api, obj, typ, reason, message, component, kind=None, api_version=None):
    """A core/v1 Event about obj, as client-go's event recorder writes it."""
    m = obj["metadata"]
    now = rfc3339()
    ev = {"apiVersion": "v1", "kind": "Event",
          "metadata": {"name": "%s.%x" % (m["name"], time.time_ns()), "namespace": m.get("namespace") or "default"},
          "involvedObject": {"kind": kind or obj.get("kind"), "namespace": m.get("namespace"), "name": m["name"],
                             "uid": m.get("uid"), "apiVersion": api_version or obj.get("apiVersion"),
                             "resourceVersion": m.get("resourceVersion")},
          "reason": reason, "message": message, "source": {"component": component},
          "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": typ,
          "reportingComponent": component, "reportingInstance": ""}
    if not m.get("namespace"):
        del ev["involvedObject"]["namespace"]
    try:
        api.store.create(api.t("", "events"), ev["metadata"]["namespace"], ev, component)
    except ApiError:
        pass
