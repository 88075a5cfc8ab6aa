# The emulator's storage and object semantics, independent of HTTP. One global resourceVersion
# counter (etcd's revision), objects keyed by storage (group, resource) and (namespace, name), and a
# bounded history of changes that watches replay; a watch from a revision older than the history
# gets 410 Gone ("too old resource version"), as from a compacted etcd.
# Semantics follow the API conventions: create/update/patch/delete, status subresource (spec
# changes bump metadata.generation, status writes never touch anything else and never bump it;
# writes to the main resource keep the stored status), 409 on a stale resourceVersion, custom
# resources pruned and validated against the CRD's openAPIV3Schema (422 naming the field),
# finalizers, namespaces, CRDs that start serving their resources, field managers and
# server-side apply (managed.py). Every public method raises ApiError for an API error.
import collections
import copy
import json
import random
import threading
import uuid

import defaults
import events
import managed
import patches
import schema as schemas
from resources import BUILTIN, crd_resource_types


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            s["details"] = self.details
        return s


def not_found(t, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (t.group_resource(), name),
                    {"name": name, "group": t.group, "kind": t.resource})


def invalid(t, name, errs):
    if len(errs) == 1:
        text = errs[0].message
    else:
        text = "[" + ", ".join(e.message for e in errs) + "]"
    kind = t.kind if t.group == "" else t.kind + "." + t.group
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name, text),
                    {"name": name, "group": t.group, "kind": t.kind, "causes": [e.cause() for e in errs]})


def conflict(t, name):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    'please apply your changes to the latest version and try again' % (t.group_resource(), name),
                    {"name": name, "group": t.group, "kind": t.resource})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


class Change:
    __slots__ = ("rv", "type", "key", "obj", "old")

    def __init__(self, rv, typ, key, obj, old):
        self.rv, self.type, self.key, self.obj, self.old = rv, typ, key, obj, old


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Store:
    def __init__(self, history=1000):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0
        self.floor = 0              # changes with rv <= floor are no longer in history
        self.history = collections.deque()
        self.history_size = history
        self.objects = {}           # storage key -> {(ns, name): obj}
        self.types = list(BUILTIN)
        self.watch_epoch = 0        # bumped to end every open watch
        self.stopping = False
        for ns in SYSTEM_NAMESPACES:
            self._create_system_namespace(ns)
        self.floor = self.rv

    # -- types -------------------------------------------------------------------------------
    def find_type(self, group, version, resource):
        for t in self.types:
            if t.group == group and t.version == version and t.resource == resource:
                return t
        return None

    def _register_crd(self, crd):
        self.types = [t for t in self.types if not (t.crd and t.crd["metadata"]["name"] == crd["metadata"]["name"])]
        self.types.extend(crd_resource_types(crd))

    def _unregister_crd(self, name):
        gone = [t for t in self.types if t.crd and t.crd["metadata"]["name"] == name]
        self.types = [t for t in self.types if t not in gone]
        return gone

    @staticmethod
    def skey(t):
        return ("", "events") if t.resource == "events" and t.group in ("", "events.k8s.io") else t.storage_key

    # -- conversion between the stored form and the served version ----------------------------
    def _out(self, t, obj):
        o = copy.deepcopy(obj)
        if t.group == "events.k8s.io":
            o = events.from_core(o)
        o["apiVersion"] = t.api_version
        o["kind"] = t.kind
        return o

    def _in(self, t, obj):
        if t.group == "events.k8s.io":
            return events.to_core(obj)
        return obj

    # -- history -------------------------------------------------------------------------------
    def _record(self, typ, t, obj, old):
        self.history.append(Change(self.rv, typ, self.skey(t), copy.deepcopy(obj), copy.deepcopy(old) if old else None))
        while len(self.history) > self.history_size:
            self.floor = self.history.popleft().rv
        self.cond.notify_all()

    def compact(self):
        with self.lock:
            self.history.clear()
            self.floor = self.rv
            self.cond.notify_all()

    def end_watches(self):
        with self.lock:
            self.watch_epoch += 1
            self.cond.notify_all()

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    # -- helpers -------------------------------------------------------------------------------
    def _bucket(self, t):
        return self.objects.setdefault(self.skey(t), {})

    def _create_system_namespace(self, name):
        t = self.find_type("", "v1", "namespaces")
        obj = {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": schemas.now_rfc3339(),
                            "labels": {"kubernetes.io/metadata.name": name}},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._bucket(t)[("", name)] = obj

    def _check_namespace(self, ns):
        nst = self.find_type("", "v1", "namespaces")
        if ("", ns) not in self._bucket(nst):
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns, {"name": ns, "kind": "namespaces"})

    @staticmethod
    def _content(obj, with_status):
        return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind") and (with_status or k != "status")}

    def _prepare_custom(self, t, obj, name, field_validation, warnings, status_only=False):
        """Prunes and validates a custom resource (in place)."""
        s = t.schema()
        if s is None:
            return
        removed = schemas.prune(s, obj)
        if status_only:
            removed = [r for r in removed if r.startswith("status")]
        if removed:
            if field_validation == "Strict":
                raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s' % (
                    t.kind, t.version, t.kind, ", ".join('unknown field "%s"' % r for r in removed)))
            if field_validation != "Ignore":
                warnings.extend('unknown field "%s"' % r for r in removed)
        errs = schemas.validate(s, obj) + schemas.validate_cel(s, obj)
        if status_only:
            errs = [e for e in errs if e.field.startswith("status")]
        if errs:
            raise invalid(t, name, errs)

    def _validate_meta(self, t, obj, name):
        errs = []
        bad = schemas.validate_name(name, label=(t.kind == "Namespace"))
        if bad:
            errs.append(schemas.FieldError("metadata.name", "FieldValueInvalid", 'metadata.name: Invalid value: "%s": %s' % (name, bad)))
        meta = obj.get("metadata") or {}
        ann = meta.get("annotations") or {}
        size = sum(len(k) + len(v or "") for k, v in ann.items() if isinstance(v, str))
        if size > 262144:
            errs.append(schemas.FieldError("metadata.annotations", "FieldValueTooLong", "metadata.annotations: Too long: may not be more than 262144 bytes"))
        for f in ("labels", "annotations"):
            for k, v in (meta.get(f) or {}).items():
                if not isinstance(v, str):
                    errs.append(schemas.FieldError("metadata.%s" % f, "FieldValueTypeInvalid", "metadata.%s: Invalid value: %s: must be a string" % (f, schemas.go_value(v))))
        if errs:
            raise invalid(t, name, errs)

    def _validate_kind(self, t, obj, name, old=None):
        errs = []
        if t.kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            for f in ("group", "scope"):
                if not spec.get(f):
                    errs.append(schemas.FieldError("spec." + f, "FieldValueRequired", "spec.%s: Required value" % f))
            for f in ("plural", "kind"):
                if not names.get(f):
                    errs.append(schemas.FieldError("spec.names." + f, "FieldValueRequired", "spec.names.%s: Required value" % f))
            if names.get("plural") and spec.get("group") and name != "%s.%s" % (names["plural"], spec["group"]):
                errs.append(schemas.FieldError("metadata.name", "FieldValueInvalid", 'metadata.name: Invalid value: "%s": must be spec.names.plural+"."+spec.group' % name))
            versions = spec.get("versions") or []
            if not versions:
                errs.append(schemas.FieldError("spec.versions", "FieldValueInvalid", "spec.versions: Invalid value: []: must have exactly one version marked as storage version"))
            elif sum(1 for v in versions if v.get("storage")) != 1:
                errs.append(schemas.FieldError("spec.versions", "FieldValueInvalid", "spec.versions: Invalid value: []: must have exactly one version marked as storage version"))
            if spec.get("scope") not in (None, "Namespaced", "Cluster"):
                errs.append(schemas.FieldError("spec.scope", "FieldValueNotSupported", 'spec.scope: Unsupported value: "%s": supported values: "Cluster", "Namespaced"' % spec.get("scope")))
            if old is not None and (old.get("spec") or {}).get("scope") != spec.get("scope"):
                errs.append(schemas.FieldError("spec.scope", "FieldValueInvalid", "spec.scope: Invalid value: \"%s\": field is immutable" % spec.get("scope")))
        elif t.kind == "Lease":
            d = (obj.get("spec") or {}).get("leaseDurationSeconds")
            if d is not None and (not isinstance(d, int) or d <= 0):
                errs.append(schemas.FieldError("spec.leaseDurationSeconds", "FieldValueInvalid", "spec.leaseDurationSeconds: Invalid value: %s: must be greater than 0" % schemas.go_value(d)))
        elif t.kind == "Event" and t.group == "events.k8s.io" and old is None:
            errs = events.validate_v1_create(obj)
        elif t.kind == "Event":
            inv = obj.get("involvedObject") or obj.get("regarding") or {}
            ns = obj["metadata"].get("namespace")
            if inv.get("namespace") and ns and inv["namespace"] != ns:
                field = "involvedObject.namespace" if t.group == "" else "regarding.namespace"
                errs.append(schemas.FieldError(field, "FieldValueInvalid", '%s: Invalid value: "%s": does not match event.namespace' % (field, inv["namespace"])))
        if errs:
            raise invalid(t, name, errs)

    def _workload(self, t, obj, name, old=None):
        """Defaulting and the validations the controllers rely on (defaults.py)."""
        if t.crd:
            return
        defaults.apply(t, obj)
        errs = defaults.validate(t, obj, old)
        if errs:
            raise invalid(t, name, errs)

    def _list_keys_schema(self, t):
        return t.schema() if t.crd else None

    # -- reads ---------------------------------------------------------------------------------
    def get(self, t, ns, name):
        with self.lock:
            obj = self._bucket(t).get((ns if t.namespaced else "", name))
            if obj is None:
                raise not_found(t, name)
            return self._out(t, obj)

    def exists(self, t, ns, name):
        with self.lock:
            return (ns if t.namespaced else "", name) in self._bucket(t)

    def list(self, t, ns, match=None):
        """(objects, resourceVersion) of the collection, sorted by namespace/name."""
        with self.lock:
            out = []
            for (ons, name), obj in sorted(self._bucket(t).items()):
                if t.namespaced and ns and ons != ns:
                    continue
                o = self._out(t, obj)
                if match is None or match(o):
                    out.append(o)
            return out, str(self.rv)

    # -- writes --------------------------------------------------------------------------------
    def create(self, t, ns, obj, manager, dry_run=False, field_validation="Warn", warnings=None, subresource=None):
        warnings = warnings if warnings is not None else []
        with self.lock:
            if not isinstance(obj, dict):
                raise bad_request("the object provided is not a JSON object")
            obj = copy.deepcopy(obj)
            self._check_gvk(t, obj)
            meta = obj.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise bad_request("metadata must be an object")
            name = meta.get("name")
            if not name and meta.get("generateName"):
                name = meta["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
                meta["name"] = name
            if not name:
                raise invalid(t, "", [schemas.FieldError("metadata.name", "FieldValueRequired", "metadata.name: Required value: name or generateName is required")])
            if t.namespaced:
                if meta.get("namespace") and meta["namespace"] != ns:
                    raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
                meta["namespace"] = ns
                self._check_namespace(ns)
            else:
                meta.pop("namespace", None)
            self._validate_meta(t, obj, name)
            key = (ns if t.namespaced else "", name)
            if key in self._bucket(t):
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (t.group_resource(), name),
                               {"name": name, "group": t.group, "kind": t.resource})
            if t.status and t.kind not in ("Namespace",):
                obj.pop("status", None)
            if t.crd:
                self._prepare_custom(t, obj, name, field_validation, warnings)
            self._workload(t, obj, name)
            self._validate_kind(t, obj, name)
            for f in ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "selfLink"):
                meta.pop(f, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = schemas.now_rfc3339()
            if t.generation:
                meta["generation"] = 1
            self._defaults(t, obj)
            if t.kind == "Job" and t.group == "batch":
                defaults.job_selector(obj)
            meta.pop("managedFields", None)
            if manager is not None:
                managed.record_update(None, obj, manager, self._list_keys_schema(t), not t.crd, t.api_version, subresource)
            if dry_run:
                obj["metadata"]["resourceVersion"] = ""
                return self._out(t, obj)
            meta["resourceVersion"] = self._next_rv()
            stored = self._in(t, obj)
            self._bucket(t)[key] = stored
            self._record("ADDED", t, stored, None)
            if t.kind == "CustomResourceDefinition":
                self._register_crd(stored)
            return self._out(t, stored)

    def _check_gvk(self, t, obj):
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if av and av != t.api_version:
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)" % (av, t.api_version))
        if kind and kind != t.kind:
            raise bad_request("the kind in the data (%s) does not match the expected kind (%s)" % (kind, t.kind))
        obj["apiVersion"], obj["kind"] = t.api_version, t.kind

    def _defaults(self, t, obj):
        if t.kind == "Namespace":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif t.kind == "CustomResourceDefinition":
            now = schemas.now_rfc3339()
            spec = obj["spec"]
            names = dict(spec.get("names") or {})
            names.setdefault("singular", names.get("kind", "").lower())
            names.setdefault("listKind", names.get("kind", "") + "List")
            spec["names"] = names
            spec.setdefault("conversion", {"strategy": "None"})
            obj["status"] = {
                "acceptedNames": names,
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now}],
                "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")]}

    def update(self, t, ns, name, obj, manager, subresource=None, dry_run=False, field_validation="Warn",
               warnings=None, require_rv=None, apply_managed=True):
        """PUT semantics. obj is the complete new object in the served version."""
        warnings = warnings if warnings is not None else []
        with self.lock:
            if not isinstance(obj, dict):
                raise bad_request("the object provided is not a JSON object")
            key = (ns if t.namespaced else "", name)
            cur_stored = self._bucket(t).get(key)
            if cur_stored is None:
                raise not_found(t, name)
            cur = self._out(t, cur_stored)
            new = copy.deepcopy(obj)
            self._check_gvk(t, new)
            meta = new.setdefault("metadata", {})
            if meta.get("name") and meta["name"] != name:
                raise bad_request('the name of the object (%s) does not match the name on the URL (%s)' % (meta["name"], name))
            if t.namespaced and meta.get("namespace") and meta["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            rv = meta.get("resourceVersion")
            if rv:
                if rv != cur["metadata"]["resourceVersion"]:
                    raise conflict(t, name)
            elif require_rv if require_rv is not None else (t.crd is not None):
                raise invalid(t, name, [schemas.FieldError("metadata.resourceVersion", "FieldValueInvalid", "metadata.resourceVersion: Invalid value: 0: must be specified for an update")])
            if subresource == "status":
                base = copy.deepcopy(cur)
                if "status" in new:
                    base["status"] = new["status"]
                else:
                    base.pop("status", None)
                base["metadata"]["managedFields"] = meta.get("managedFields", cur["metadata"].get("managedFields"))
                new = base
                meta = new["metadata"]
            else:
                if t.status:
                    if "status" in cur:
                        new["status"] = copy.deepcopy(cur["status"])
                    else:
                        new.pop("status", None)
                for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                    if f in cur["metadata"]:
                        meta[f] = cur["metadata"][f]
                    else:
                        meta.pop(f, None)
            meta["name"] = name
            if t.namespaced:
                meta["namespace"] = ns
            self._validate_meta(t, new, name)
            if t.crd:
                self._prepare_custom(t, new, name, field_validation, warnings, status_only=(subresource == "status"))
            if subresource != "status":
                self._workload(t, new, name, cur)
            self._validate_kind(t, new, name, old=cur)
            if t.generation and subresource != "status":
                if self._content(new, not t.status) != self._content(cur, not t.status):
                    meta["generation"] = cur["metadata"].get("generation", 1) + 1
            if t.kind == "Namespace":
                new["status"] = cur.get("status", {"phase": "Active"})
            if t.kind == "CustomResourceDefinition" and subresource != "status":
                self._defaults(t, new)
                new["status"] = cur.get("status", new.get("status"))
            given = meta.get("managedFields")
            cur_mf = cur["metadata"].get("managedFields")
            if given is not None and given != cur_mf and subresource != "status":
                # The client rewrote managedFields (kubectl's client-side to server-side apply
                # migration does): the server takes them as given; an empty list clears them.
                if not given:
                    meta.pop("managedFields", None)
            elif apply_managed and manager is not None:
                managed.record_update(cur, new, manager, self._list_keys_schema(t), not t.crd, t.api_version, subresource)
            meta["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if self._same(new, cur):
                return cur
            if dry_run:
                return new
            # Finalizers removed from an object being deleted: it goes.
            if cur["metadata"].get("deletionTimestamp") and not meta.get("finalizers"):
                meta["resourceVersion"] = self._next_rv()
                del self._bucket(t)[key]
                stored = self._in(t, new)
                self._record("DELETED", t, stored, cur_stored)
                self._after_delete(t, stored)
                return self._out(t, stored)
            meta["resourceVersion"] = self._next_rv()
            stored = self._in(t, new)
            self._bucket(t)[key] = stored
            self._record("MODIFIED", t, stored, cur_stored)
            if t.kind == "CustomResourceDefinition":
                self._register_crd(stored)
            return self._out(t, stored)

    @staticmethod
    def _same(a, b):
        def strip(o):
            o = copy.deepcopy(o)
            for e in o.get("metadata", {}).get("managedFields") or []:
                e.pop("time", None)
            return json.dumps(o, sort_keys=True)
        return strip(a) == strip(b)

    def patch(self, t, ns, name, patch_type, body, manager, subresource=None, dry_run=False,
              field_validation="Warn", warnings=None, force=False):
        with self.lock:
            key = (ns if t.namespaced else "", name)
            if patch_type == "strategic" and t.crd:
                # Checked before the object is read, as the API server's patch handler does.
                raise ApiError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            if patch_type == "apply":
                return self._apply(t, ns, name, body, manager, subresource, dry_run, field_validation, warnings, force)
            cur_stored = self._bucket(t).get(key)
            if cur_stored is None:
                raise not_found(t, name)
            cur = self._out(t, cur_stored)
            try:
                if patch_type == "merge":
                    if not isinstance(body, dict):
                        raise bad_request("the body of the request was not a JSON object")
                    new = patches.merge_patch(cur, body)
                elif patch_type == "json":
                    new = patches.json_patch(cur, body)
                elif patch_type == "strategic":
                    if t.crd:
                        raise ApiError(415, "UnsupportedMediaType",
                                       "the body of the request was in an unknown format - accepted media types include: "
                                       "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
                    if not isinstance(body, dict):
                        raise bad_request("the body of the request was not a JSON object")
                    new = patches.strategic_patch(cur, body)
                else:
                    raise ApiError(415, "UnsupportedMediaType", "unsupported patch type")
            except patches.PatchError as e:
                raise ApiError(e.code, e.reason, e.message)
            if not isinstance(new, dict):
                raise bad_request("the patch did not result in an object")
            # A patch that names a resourceVersion is a precondition; otherwise it applies to the latest.
            patched_rv = (new.get("metadata") or {}).get("resourceVersion")
            if patched_rv and patched_rv != cur["metadata"]["resourceVersion"]:
                raise conflict(t, name)
            new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if new["metadata"].get("uid", cur["metadata"]["uid"]) != cur["metadata"]["uid"]:
                raise conflict(t, name)
            return self.update(t, ns, name, new, manager, subresource, dry_run, field_validation, warnings, require_rv=False)

    def _apply(self, t, ns, name, body, manager, subresource, dry_run, field_validation, warnings, force):
        if not manager:
            raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not a JSON object")
        self._check_gvk(t, dict(body))
        av = body.get("apiVersion")
        if not av or not body.get("kind"):
            raise bad_request("invalid object type: %s, Kind=%s" % (av or "/", body.get("kind") or ""))
        bmeta = body.get("metadata") or {}
        if bmeta.get("name") and bmeta["name"] != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (bmeta["name"], name))
        key = (ns if t.namespaced else "", name)
        cur_stored = self._bucket(t).get(key)
        applied = copy.deepcopy(body)
        if t.crd:
            s = t.schema()
            removed = schemas.prune(s, applied) if s else []
            if removed and field_validation == "Strict":
                raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s' % (
                    t.kind, t.version, t.kind, ", ".join('unknown field "%s"' % r for r in removed)))
            if removed and field_validation != "Ignore" and warnings is not None:
                warnings.extend('unknown field "%s"' % r for r in removed)
        if subresource == "status":
            applied = {k: v for k, v in applied.items() if k in ("apiVersion", "kind", "metadata", "status")}
        elif t.status:
            applied.pop("status", None)
        applied.setdefault("metadata", {})
        for f in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            if f == "resourceVersion" and applied["metadata"].get(f) and cur_stored is not None \
                    and applied["metadata"][f] != cur_stored["metadata"]["resourceVersion"]:
                raise conflict(t, name)
            applied["metadata"].pop(f, None)
        sch = self._list_keys_schema(t)
        if cur_stored is None:
            if subresource == "status":
                raise not_found(t, name)
            obj = managed.apply({}, applied, manager, force, sch, not t.crd, t.api_version)
            obj["apiVersion"], obj["kind"] = t.api_version, t.kind
            obj["metadata"]["name"] = name
            mf = obj["metadata"].pop("managedFields")
            created = self.create(t, ns, obj, None, dry_run, "Ignore", warnings)
            created["metadata"]["managedFields"] = mf
            if not dry_run:
                self._bucket(t)[key]["metadata"]["managedFields"] = copy.deepcopy(mf)
                self.history[-1].obj["metadata"]["managedFields"] = copy.deepcopy(mf)
            return created
        cur = self._out(t, cur_stored)
        try:
            try:
                new = managed.apply(cur, applied, manager, force, sch, not t.crd, t.api_version, subresource)
            except managed.ApplyConflict as e:
                # kube-apiserver's lastAppliedManager: kubectl's first server-side apply over a
                # client-side applied object may take the fields whose live value is still the one
                # the last-applied annotation recorded.
                allowed = self._last_applied_fields(cur, sch, t) if manager == "kubectl" else set()
                if not all(f in allowed for _, _, f in e.conflicts):
                    raise managed.ApplyConflict([c for c in e.conflicts if c[2] not in allowed])
                new = managed.apply(cur, applied, manager, True, sch, not t.crd, t.api_version, subresource)
            ann = (new.get("metadata") or {}).get("annotations") or {}
            if manager == "kubectl" and LAST_APPLIED in ann:
                # lastAppliedUpdater: keep the annotation in step for a later client-side apply.
                cfg = copy.deepcopy(body)
                cfg_ann = (cfg.get("metadata") or {}).get("annotations") or {}
                cfg_ann.pop(LAST_APPLIED, None)
                ann[LAST_APPLIED] = json.dumps(cfg, separators=(",", ":")) + "\n"
        except managed.ApplyConflict as e:
            n = len(e.conflicts)
            msg = "Apply failed with %d conflict%s: %s" % (
                n, "" if n == 1 else "s",
                "; ".join('conflict with "%s"%s: %s' % (m, " using " + av if av else "", f) for m, av, f in e.conflicts))
            raise ApiError(409, "Conflict", msg, {"causes": [
                {"reason": "FieldManagerConflict", "message": 'conflict with "%s" using %s' % (m, av), "field": f}
                for m, av, f in e.conflicts]})
        new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return self.update(t, ns, name, new, manager, subresource, dry_run, field_validation, warnings,
                           require_rv=False, apply_managed=False)

    def _last_applied_fields(self, cur, sch, t):
        text = ((cur.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
        if not text:
            return set()
        try:
            last = json.loads(text)
        except ValueError:
            return set()
        out = set()
        for p in managed.leaves(managed.fieldset(last, sch, not t.crd)):
            fl, vl = managed._lookup(last, p)
            fc, vc = managed._lookup(cur, p)
            if fl and fc and vl == vc:
                out.add(managed.dotted(p))
        return out

    def delete(self, t, ns, name, dry_run=False, preconditions=None):
        with self.lock:
            key = (ns if t.namespaced else "", name)
            cur_stored = self._bucket(t).get(key)
            if cur_stored is None:
                raise not_found(t, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != cur_stored["metadata"].get("uid"):
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": Precondition failed: UID in precondition: %s, UID in object meta: %s' % (t.group_resource(), name, pre["uid"], cur_stored["metadata"].get("uid")))
            if pre.get("resourceVersion") and pre["resourceVersion"] != cur_stored["metadata"].get("resourceVersion"):
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s' % (t.group_resource(), name, pre["resourceVersion"], cur_stored["metadata"].get("resourceVersion")))
            if dry_run:
                return self._out(t, cur_stored)
            fins = cur_stored["metadata"].get("finalizers")
            if fins and t.kind != "Namespace":
                if cur_stored["metadata"].get("deletionTimestamp"):
                    return self._out(t, cur_stored)
                new = copy.deepcopy(cur_stored)
                new["metadata"]["deletionTimestamp"] = schemas.now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if t.generation:
                    new["metadata"]["generation"] = new["metadata"].get("generation", 1) + 1
                new["metadata"]["resourceVersion"] = self._next_rv()
                self._bucket(t)[key] = new
                self._record("MODIFIED", t, new, cur_stored)
                return self._out(t, new)
            if t.kind == "Namespace":
                for other in list(self.types):
                    if other.namespaced and (other.group, other.version) == (other.group, other.version):
                        bucket = self._bucket(other)
                        for k in [k for k in bucket if k[0] == name]:
                            self._remove(other, k)
            deleted = self._remove(t, key)
            self._after_delete(t, deleted)
            return self._out(t, deleted)

    def _remove(self, t, key):
        bucket = self._bucket(t)
        old = bucket.pop(key, None)
        if old is None:
            return None
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._record("DELETED", t, gone, old)
        return gone

    def _after_delete(self, t, obj):
        if t.kind == "CustomResourceDefinition":
            for ct in self._unregister_crd(obj["metadata"]["name"]):
                bucket = self._bucket(ct)
                for k in list(bucket):
                    self._remove(ct, k)
                self.objects.pop(self.skey(ct), None)

    # -- persistence ---------------------------------------------------------------------------
    def dump(self):
        with self.lock:
            return {"rv": self.rv, "objects": [{"group": g, "resource": r, "object": o}
                                               for (g, r), b in self.objects.items() for o in b.values()]}

    def load(self, state):
        with self.lock:
            self.objects = {}
            self.types = list(BUILTIN)
            for e in state["objects"]:
                o = e["object"]
                ns = o["metadata"].get("namespace", "")
                self.objects.setdefault((e["group"], e["resource"]), {})[(ns, o["metadata"]["name"])] = o
                if e["group"] == "apiextensions.k8s.io" and e["resource"] == "customresourcedefinitions":
                    self._register_crd(o)
            self.rv = state["rv"]
            self.floor = self.rv
            self.history.clear()
