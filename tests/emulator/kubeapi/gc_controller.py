# Garbage collection by ownerReferences and the TTL-after-finished controller.
#   GarbageCollector: an object any of whose owners (ownerReferences, matched by uid in the same
#   namespace, or cluster-scoped) is gone is deleted (background propagation: dependents go after
#   their owner, in the next pass). Owners may be any kind, custom resources included. Objects
#   with several owners go only when every owner is gone, as in Kubernetes.
#   TTLController: a Job finished (Complete or Failed condition True) for
#   spec.ttlSecondsAfterFinished seconds is deleted; its pods then go by garbage collection.
# Simplified: propagationPolicy Foreground and Orphan are treated as Background.
import ctrl_util as u


class GarbageCollector:
    def sync(self, mgr):
        store = mgr.store
        with store.lock:
            uids = set()
            owned = []
            for (group, resource), bucket in list(store.objects.items()):
                for o in bucket.values():
                    m = o["metadata"]
                    uids.add(m.get("uid"))
                    if m.get("ownerReferences"):
                        owned.append((group, resource, m.get("namespace", ""), m["name"], m.get("uid"), m["ownerReferences"]))
        for group, resource, ns, name, ouid, refs in owned:
            if all(r.get("uid") not in uids for r in refs):
                t = next((t for t in store.types if store.skey(t) == (group, resource)), None)
                if t is None:
                    continue
                try:
                    store.delete(t, ns, name, preconditions={"uid": ouid})
                except Exception:
                    pass


class TTLController:
    def sync(self, mgr):
        api = mgr.api
        for j in api.list("batch", "jobs"):
            ttl = (j.get("spec") or {}).get("ttlSecondsAfterFinished")
            if ttl is None or j["metadata"].get("deletionTimestamp"):
                continue
            fin = None
            for c in (j.get("status") or {}).get("conditions") or []:
                if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                    fin = c.get("lastTransitionTime")
            if fin is None:
                fin = (j.get("status") or {}).get("completionTime")
            if fin is None:
                continue
            since = u.seconds_since(fin)
            if since is None:
                continue
            if since >= ttl:
                api.delete("batch", "jobs", j["metadata"]["namespace"], j["metadata"]["name"], u.uid(j))
            else:
                mgr.requeue_after(ttl - since + 0.05)
