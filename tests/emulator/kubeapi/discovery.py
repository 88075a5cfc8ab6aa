# What the server says about itself: legacy discovery (/api, /apis, /apis/<g>, resource lists),
# aggregated discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList), OpenAPI v3 per group-version
# and v2 (JSON) with the CRDs' schemas, and the Table rendering kubectl get asks for
# (additionalPrinterColumns for custom resources, a few columns for built-in kinds).
import datetime
import hashlib
import json
import re

from schema import parse_time
import printers

STATUS_VERBS = ["get", "patch", "update"]


def _gv(t):
    return t.api_version


def group_versions(types):
    """{group: [versions]} in registration order (core group first)."""
    out = {}
    for t in types:
        vs = out.setdefault(t.group, [])
        if t.version not in vs:
            vs.append(t.version)
    return out


def _preferred(versions):
    def rank(v):
        m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
        if not m:
            return (0, 0, 0)
        stab = {"alpha": 1, "beta": 2, None: 3}[m.group(2)]
        return (stab, int(m.group(1)), int(m.group(3) or 0))
    return sorted(versions, key=rank, reverse=True)


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group(group, versions):
    vs = _preferred(versions)
    return {"name": group,
            "versions": [{"groupVersion": group + "/" + v, "version": v} for v in vs],
            "preferredVersion": {"groupVersion": group + "/" + vs[0], "version": vs[0]}}


def api_group_list(types):
    groups = [api_group(g, vs) for g, vs in group_versions(types).items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _hash(s):
    return hashlib.sha256(s.encode()).hexdigest()[:16]


def scalable(t):
    """Kinds with the scale subresource (autoscaling/v1 Scale)."""
    return t.group == "apps" and t.kind in ("Deployment", "StatefulSet", "ReplicaSet")


def resource_list(types, group, version):
    res = []
    for t in types:
        if t.group != group or t.version != version:
            continue
        r = {"name": t.resource, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind,
             "verbs": t.verbs, "storageVersionHash": _hash(t.group + t.resource)}
        if t.short_names:
            r["shortNames"] = t.short_names
        if t.categories:
            r["categories"] = t.categories
        res.append(r)
        if t.status:
            res.append({"name": t.resource + "/status", "singularName": "", "namespaced": t.namespaced,
                        "kind": t.kind, "verbs": STATUS_VERBS})
        if scalable(t):
            res.append({"name": t.resource + "/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                        "version": "v1", "kind": "Scale", "verbs": STATUS_VERBS})
    gv = version if not group else group + "/" + version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}


def aggregated(types, core, api_version="apidiscovery.k8s.io/v2"):
    """APIGroupDiscoveryList for /api (core=True) or /apis."""
    items = []
    for g, versions in group_versions(types).items():
        if (g == "") != core:
            continue
        vitems = []
        for v in _preferred(versions):
            rs = []
            for t in types:
                if t.group != g or t.version != v:
                    continue
                r = {"resource": t.resource,
                     "responseKind": {"group": g, "version": v, "kind": t.kind},
                     "scope": "Namespaced" if t.namespaced else "Cluster",
                     "singularResource": t.singular, "verbs": t.verbs}
                if t.short_names:
                    r["shortNames"] = t.short_names
                if t.categories:
                    r["categories"] = t.categories
                if t.status:
                    r["subresources"] = [{"subresource": "status",
                                          "responseKind": {"group": g, "version": v, "kind": t.kind},
                                          "verbs": STATUS_VERBS}]
                if scalable(t):
                    r.setdefault("subresources", []).append({"subresource": "scale", "verbs": STATUS_VERBS,
                                                             "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}})
                rs.append(r)
            vitems.append({"version": v, "resources": rs, "freshness": "Current"})
        item = {"metadata": {"name": g} if g else {}, "versions": vitems}
        items.append(item)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


# -- OpenAPI -----------------------------------------------------------------------------------

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"


def _object_meta_schema():
    s = lambda d: {"type": "string", "description": d}
    labels = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    return {
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        "type": "object",
        "properties": {
            "name": s("Name must be unique within a namespace."),
            "generateName": s("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            "namespace": s("Namespace defines the space within which each name must be unique."),
            "uid": s("UID is the unique in time and space value for this object."),
            "resourceVersion": s("An opaque value that represents the internal version of this object."),
            "generation": {"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state."},
            "creationTimestamp": s("CreationTimestamp is a timestamp representing the server time when this object was created."),
            "deletionTimestamp": s("DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted."),
            "labels": dict(labels, description="Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            "annotations": dict(labels, description="Annotations is an unstructured key value map stored with a resource."),
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""}, "description": "Must be empty before the object is deleted from the registry."},
            "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, "description": "List of objects depended by this object."},
            "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, "description": "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."},
        },
    }


def schema_name(t):
    if t.crd:
        rev = ".".join(reversed(t.group.split(".")))
        return "%s.%s.%s" % (rev, t.version, t.kind)
    pkg = {"": "core", "apps": "apps", "batch": "batch", "coordination.k8s.io": "coordination",
           "events.k8s.io": "events", "rbac.authorization.k8s.io": "rbac", "policy": "policy",
           "networking.k8s.io": "networking"}.get(t.group)
    if t.group == "apiextensions.k8s.io":
        return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    return "io.k8s.api.%s.%s.%s" % (pkg, t.version, t.kind)


def _gvk(t):
    return [{"group": t.group, "version": t.version, "kind": t.kind}]


def _ref(v3, name):
    return ("#/components/schemas/" if v3 else "#/definitions/") + name


def type_schema(t, v3=True):
    meta = {"allOf": [{"$ref": _ref(v3, OBJECT_META)}], "default": {},
            "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}
    if not v3:
        meta = {"$ref": _ref(v3, OBJECT_META)}
    base = t.schema() if t.crd else None
    if base is not None:
        s = json.loads(json.dumps(base))
        s.setdefault("properties", {})
        s["properties"]["metadata"] = meta
    else:
        s = {"description": "%s (served by the API server emulator; fields are not described)." % t.kind,
             "type": "object",
             "properties": {"metadata": meta}, "x-kubernetes-preserve-unknown-fields": True}
        for f in ("spec", "status", "data", "rules", "subjects", "roleRef"):
            s["properties"][f] = {"type": "object" if f not in ("rules", "subjects") else "array",
                                  "x-kubernetes-preserve-unknown-fields": True}
            if f in ("rules", "subjects"):
                s["properties"][f]["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    s["properties"]["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}
    s["properties"]["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}
    s["x-kubernetes-group-version-kind"] = _gvk(t)
    return s


def _params(names):
    return [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} if n != "body" else None
            for n in names]


def _op(t, action, v3):
    gvk = {"group": t.group, "version": t.version, "kind": t.kind}
    params = {"get": [], "list": ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"],
              "create": ["dryRun", "fieldManager", "fieldValidation"],
              "put": ["dryRun", "fieldManager", "fieldValidation"],
              "patch": ["dryRun", "fieldManager", "fieldValidation", "force"],
              "delete": ["dryRun", "gracePeriodSeconds", "propagationPolicy"]}[action]
    ref = {"$ref": _ref(v3, schema_name(t))}
    op = {"operationId": "%s%s" % (action, t.kind), "tags": [t.group or "core"],
          "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
    if v3:
        op["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in params]
        op["responses"] = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
    else:
        op["parameters"] = [{"name": n, "in": "query", "type": "string", "uniqueItems": True} for n in params]
        op["responses"] = {"200": {"description": "OK", "schema": ref}}
    return op


def _paths(t, v3):
    prefix = "/api/v1" if t.group == "" else "/apis/%s/%s" % (t.group, t.version)
    coll = prefix + ("/namespaces/{namespace}/" if t.namespaced else "/") + t.resource
    item = coll + "/{name}"
    out = {coll: {"get": _op(t, "list", v3), "post": _op(t, "create", v3)},
           item: {"get": _op(t, "get", v3), "put": _op(t, "put", v3), "patch": _op(t, "patch", v3),
                  "delete": _op(t, "delete", v3)}}
    if t.status:
        out[item + "/status"] = {"get": _op(t, "get", v3), "put": _op(t, "put", v3), "patch": _op(t, "patch", v3)}
    return out


def openapi_v3_root(types):
    paths = {}
    for g, versions in group_versions(types).items():
        for v in versions:
            key = "api/v1" if g == "" else "apis/%s/%s" % (g, v)
            doc = openapi_v3_gv(types, g, v)
            paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, _hash(json.dumps(doc, sort_keys=True)).upper())}
    return {"paths": paths}


def openapi_v3_gv(types, group, version):
    paths = {}
    schemas = {OBJECT_META: _object_meta_schema()}
    for t in types:
        if t.group != group or t.version != version:
            continue
        paths.update(_paths(t, True))
        schemas[schema_name(t)] = type_schema(t, True)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def openapi_v2(types):
    paths = {}
    defs = {OBJECT_META: _object_meta_schema()}
    for t in types:
        paths.update(_paths(t, False))
        defs[schema_name(t)] = type_schema(t, False)
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "definitions": defs}


# -- Tables ------------------------------------------------------------------------------------

def human_duration(seconds):
    """apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd%dh" % (h // 24, h % 24) if h % 24 else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        y, d = h // 24 // 365, (h // 24) % 365
        return "%dy%dd" % (y, d) if d else "%dy" % y
    return "%dy" % (h // 24 // 365)


def _age(ts):
    t = parse_time(ts) if ts else None
    if not t:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


_TOKEN = re.compile(r"""\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*["']([^"']*)["']\)\]|\[\*\]""")


def jsonpath(obj, path):
    """The first value at a simple JSONPath (.a.b, .a[0], .a[?(@.k=="v")].b), or None."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    cur = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            return None
        pos = m.end()
        nxt = []
        for c in cur:
            if m.group(1) is not None and isinstance(c, dict) and m.group(1) in c:
                nxt.append(c[m.group(1)])
            elif m.group(2) is not None and isinstance(c, list) and int(m.group(2)) < len(c):
                nxt.append(c[int(m.group(2))])
            elif m.group(3) is not None and isinstance(c, list):
                for i in c:
                    v = i
                    for part in m.group(3).split("."):
                        v = v.get(part) if isinstance(v, dict) else None
                    if v is not None and str(v) == m.group(4):
                        nxt.append(i)
            elif m.group(0) == "[*]" and isinstance(c, list):
                nxt.extend(c)
        cur = nxt
    return cur[0] if cur else None


def _cell(col_type, v):
    if v is None:
        return None
    if col_type == "date":
        return _age(v) if isinstance(v, str) else None
    if col_type == "integer" and isinstance(v, (int, float)):
        return int(v)
    if col_type == "number" and isinstance(v, (int, float)):
        return v
    if col_type == "boolean" and isinstance(v, bool):
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_NAME_COL = {"name": "Name", "type": "string", "format": "name", "priority": 0,
             "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}


def _col(name, typ="string", desc="", priority=0, fmt=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def _builtin_columns(t):
    age = _col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created.")
    if t.kind == "Namespace":
        return [_NAME_COL, _col("Status", desc="The status of the namespace"), age], \
            lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), _age(o["metadata"].get("creationTimestamp"))]
    if t.kind == "Event":
        def ev(o):
            last = o.get("lastTimestamp") or o.get("deprecatedLastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
            inv = o.get("involvedObject") or o.get("regarding") or {}
            return [_age(last), o.get("type", ""), o.get("reason", ""),
                    "%s/%s" % ((inv.get("kind") or "").lower(), inv.get("name", "")), o.get("message", o.get("note", ""))]
        return [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")], ev
    if t.kind == "Lease":
        return [_NAME_COL, _col("Holder"), age], \
            lambda o: [o["metadata"]["name"], (o.get("spec") or {}).get("holderIdentity", ""), _age(o["metadata"].get("creationTimestamp"))]
    if t.kind == "CustomResourceDefinition":
        return [_NAME_COL, _col("Created At", "date")], \
            lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")]
    cols = printers.columns(t, _col, age, _age, _duration)
    if cols:
        return cols
    if t.kind == "Deployment":
        def dep(o):
            st, sp = o.get("status") or {}, o.get("spec") or {}
            return [o["metadata"]["name"], "%d/%d" % (st.get("readyReplicas", 0), sp.get("replicas", 1)),
                    st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o["metadata"].get("creationTimestamp"))]
        return [_NAME_COL, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), age], dep
    return [_NAME_COL, age], lambda o: [o["metadata"]["name"], _age(o["metadata"].get("creationTimestamp"))]


def _duration(start, end=None):
    a = parse_time(start)
    b = parse_time(end) if end else datetime.datetime.now(datetime.timezone.utc)
    if not a or not b:
        return ""
    return human_duration((b - a).total_seconds())


def table(t, objs, resource_version, include="Metadata", cont=None):
    if t.crd:
        v = t.crd_version() or {}
        cols_spec = v.get("additionalPrinterColumns")
        if cols_spec is None:
            cols_spec = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        columns = [_NAME_COL] + [_col(c["name"], c.get("type", "string"), c.get("description", ""), c.get("priority", 0), c.get("format", "")) for c in cols_spec]

        def cells(o):
            return [o["metadata"]["name"]] + [_cell(c.get("type", "string"), jsonpath(o, c["jsonPath"])) for c in cols_spec]
    else:
        columns, cells = _builtin_columns(t)
    rows = []
    for o in objs:
        row = {"cells": cells(o)}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
        rows.append(row)
    meta = {"resourceVersion": resource_version}
    if cont:
        meta["continue"] = cont
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns, "rows": rows}
