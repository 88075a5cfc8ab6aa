# Subresources served for the controllers' kinds: pods/log (from the kubelet: container, tailLines,
# previous) and the scale subresource (autoscaling/v1 Scale) of Deployments, StatefulSets and
# ReplicaSets (GET, PUT, PATCH with a JSON or merge patch; `kubectl scale` uses it).
import json

import patches
from store import ApiError, bad_request


def logs(store, controllers, t, ns, name, method, q):
    if method not in ("GET", "HEAD"):
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    pod = store.get(t, ns, name)
    if controllers is None or controllers.kubelet is None:
        raise ApiError(400, "BadRequest", "this emulator runs no kubelet (started with --no-controllers)")
    try:
        tail = int(q["tailLines"]) if q.get("tailLines") else None
    except ValueError:
        raise bad_request("tailLines must be an integer")
    return controllers.kubelet.logs(pod, q.get("container"), q.get("previous") in ("true", "1"), tail)


def scale_of(o):
    m = o["metadata"]
    sel = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m},
            "spec": {"replicas": (o.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (o.get("status") or {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}


def scale(store, t, ns, name, method, body, ptype, manager, dry_run):
    with store.lock:
        obj = store.get(t, ns, name)
        cur = scale_of(obj)
        if method in ("GET", "HEAD"):
            return cur
        if method == "PUT":
            new = body
        elif method == "PATCH":
            try:
                if ptype == "json":
                    new = patches.json_patch(cur, body)
                elif ptype in ("merge", "strategic"):
                    new = patches.merge_patch(cur, body)
                else:
                    raise ApiError(415, "UnsupportedMediaType", "unsupported patch type for the scale subresource")
            except patches.PatchError as e:
                raise ApiError(e.code, e.reason, e.message)
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        rv = ((new or {}).get("metadata") or {}).get("resourceVersion")
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                           'please apply your changes to the latest version and try again' % (t.group_resource(), name))
        replicas = ((new or {}).get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, "Invalid", 'Scale.autoscaling "%s" is invalid: spec.replicas: Invalid value: %s: '
                           'must be greater than or equal to 0' % (name, json.dumps(replicas)))
        updated = store.patch(t, ns, name, "merge", {"spec": {"replicas": replicas}}, manager, dry_run=dry_run)
        return scale_of(updated)
