# Field ownership (metadata.managedFields) and server-side apply, after the structured-merge-diff
# rules kube-apiserver uses:
#   - every write records the fields it set under its field manager (operation Update, or Apply for
#     application/apply-patch+yaml), in the FieldsV1 format ("f:name", "k:{...}" for list-map items,
#     "." for the container itself);
#   - an apply merges the applied configuration into the live object (maps by key, list-map items by
#     their keys, other lists atomically), removes fields the manager applied before and no longer
#     applies (unless another manager owns them), and answers 409 Conflict naming the other manager
#     and field when it would change a field someone else owns, unless force=true, which takes it.
# Lists are keyed by x-kubernetes-list-map-keys for custom resources and by resources.BUILTIN_LIST_KEYS
# for built-in kinds; everything else is atomic.
import copy
import json

from resources import BUILTIN_LIST_KEYS
from schema import now_rfc3339

SKIP_ROOT = {"apiVersion", "kind"}
SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
             "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}


class ApplyConflict(Exception):
    def __init__(self, conflicts):
        super().__init__("conflict")
        self.conflicts = conflicts  # [(manager, apiVersion, dotted field)]


def _child_schema(schema, key):
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    if isinstance(schema.get("additionalProperties"), dict):
        return schema["additionalProperties"]
    return None


def _list_keys(schema, key, items):
    """(keys, item schema) for the list at field key; keys None when the list is atomic."""
    if schema is not None:
        if schema.get("x-kubernetes-list-type") == "map":
            return schema.get("x-kubernetes-list-map-keys") or None, schema.get("items")
        return None, schema.get("items")
    keys = BUILTIN_LIST_KEYS.get(key)
    if key == "ports" and items and isinstance(items[0], dict) and "containerPort" not in items[0]:
        keys = ["port", "protocol"] if "protocol" in items[0] else ["port"]
    if keys and all(isinstance(i, dict) and all(k in i for k in keys[:1]) for i in items):
        return keys, None
    return None, None


def _item_pe(item, keys):
    return "k:" + json.dumps({k: item[k] for k in keys if k in item}, separators=(",", ":"), sort_keys=True)


def fieldset(obj, schema=None, builtin=True):
    """The FieldsV1 set of obj (a JSON object): what a manager owns after writing obj."""
    out = {}
    for k, v in obj.items():
        if k in SKIP_ROOT:
            continue
        if k == "metadata" and isinstance(v, dict):
            meta = {}
            for mk, mv in v.items():
                if mk in SKIP_META:
                    continue
                meta["f:" + mk] = _fs_value(mv, None, mk, builtin=True)
            if meta:
                out["f:metadata"] = meta
            continue
        out["f:" + k] = _fs_value(v, _child_schema(schema, k), k, builtin and schema is None)
    return out


def _fs_value(v, schema, key, builtin):
    if isinstance(v, dict):
        if not v:
            return {}
        node = {".": {}}
        for k, cv in v.items():
            node["f:" + k] = _fs_value(cv, _child_schema(schema, k), k, builtin)
        return node
    if isinstance(v, list):
        keys, item_schema = _list_keys(schema if not builtin else None, key, v)
        if not keys:
            return {}
        node = {".": {}}
        for item in v:
            node[_item_pe(item, keys)] = _fs_value(item, item_schema, None, builtin)
        return node
    return {}


def leaves(fs, prefix=()):
    out = set()
    for k, v in fs.items():
        p = prefix + (k,)
        if v:
            out |= leaves(v, p)
        else:
            out.add(p)
    return out


def from_leaves(paths):
    root = {}
    for p in paths:
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
    return root


def _lookup(obj, path):
    """(found, value) at a path of path elements."""
    cur = obj
    for pe in path:
        if pe == ".":
            return True, None
        if pe.startswith("f:"):
            if not isinstance(cur, dict) or pe[2:] not in cur:
                return False, None
            cur = cur[pe[2:]]
        elif pe.startswith("k:"):
            want = json.loads(pe[2:])
            if not isinstance(cur, list):
                return False, None
            cur = next((i for i in cur if isinstance(i, dict) and all(i.get(k) == v for k, v in want.items())), None)
            if cur is None:
                return False, None
        else:
            return False, None
    return True, cur


def _remove(obj, path):
    parent_path, last = path[:-1], path[-1]
    if last == ".":
        if not parent_path:
            return
        parent_path, last = parent_path[:-1], parent_path[-1]
    found, parent = _lookup(obj, parent_path)
    if not found:
        return
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        want = json.loads(last[2:])
        parent[:] = [i for i in parent if not (isinstance(i, dict) and all(i.get(k) == v for k, v in want.items()))]


def dotted(path):
    out = ""
    for pe in path:
        if pe == ".":
            continue
        if pe.startswith("f:"):
            out += "." + pe[2:]
        elif pe.startswith("k:"):
            out += "[" + ",".join("%s=%s" % (k, json.dumps(v) if not isinstance(v, str) else v) for k, v in json.loads(pe[2:]).items()) + "]"
    return out


def merge_applied(live, applied, schema=None, builtin=True, key=None):
    """Deep-merges an applied configuration into the live object (SSA merge rules)."""
    if isinstance(applied, dict) and isinstance(live, dict):
        out = copy.deepcopy(live)
        for k, v in applied.items():
            out[k] = merge_applied(live.get(k), v, _child_schema(schema, k), builtin, k)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        keys, item_schema = _list_keys(schema if not builtin else None, key, applied + live)
        if not keys:
            return copy.deepcopy(applied)
        out = [copy.deepcopy(i) for i in live]
        for item in applied:
            pe = _item_pe(item, keys)
            idx = next((n for n, i in enumerate(out) if isinstance(i, dict) and _item_pe(i, keys) == pe), None)
            if idx is None:
                out.append(copy.deepcopy(item))
            else:
                out[idx] = merge_applied(out[idx], item, item_schema, builtin)
        return out
    return copy.deepcopy(applied)


def _entries(obj):
    return obj.setdefault("metadata", {}).setdefault("managedFields", []) if obj else []


def _entry_leaves(e):
    return leaves((e.get("fieldsV1") or {}))


def apply(live, applied, manager, force, schema, builtin, api_version, subresource=None):
    """Server-side apply: returns the new object (managedFields updated) or raises ApplyConflict."""
    live = copy.deepcopy(live) if live else {}
    entries = copy.deepcopy((live.get("metadata") or {}).get("managedFields") or [])
    new_fs = fieldset(applied, schema, builtin)
    new_leaves = leaves(new_fs)
    mine = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"
            and e.get("subresource") == subresource]
    old_leaves = set().union(*[_entry_leaves(e) for e in mine]) if mine else set()
    others = [e for e in entries if e not in mine]
    conflicts = []
    for e in others:
        owned = _entry_leaves(e)
        for p in sorted(new_leaves & owned):
            if p[-1] == ".":
                continue
            fa, va = _lookup(applied, p)
            fl, vl = _lookup(live, p)
            if fl and va != vl:
                conflicts.append((e.get("manager"), e.get("apiVersion", api_version), dotted(p), e))
    if conflicts and not force:
        raise ApplyConflict([(m, av, f) for m, av, f, _ in conflicts])
    for m, av, f, e in conflicts:
        owned = _entry_leaves(e) - new_leaves
        e["fieldsV1"] = from_leaves(owned)
    merged = merge_applied({k: v for k, v in live.items() if k != "metadata"} | {"metadata": {k: v for k, v in (live.get("metadata") or {}).items() if k != "managedFields"}},
                           {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}, schema, builtin)
    others_owned = set().union(*[_entry_leaves(e) for e in others]) if others else set()
    for p in sorted(old_leaves - new_leaves - others_owned, key=len, reverse=True):
        _remove(merged, p)
    others = [e for e in others if e.get("fieldsV1")]
    others.append(_entry(manager, "Apply", api_version, new_fs, subresource))
    merged.setdefault("metadata", {})["managedFields"] = others
    return merged


def _entry(manager, op, api_version, fs, subresource):
    e = {"manager": manager, "operation": op, "apiVersion": api_version, "time": now_rfc3339(),
         "fieldsType": "FieldsV1", "fieldsV1": fs}
    if subresource:
        e["subresource"] = subresource
    return e


def record_update(old, new, manager, schema, builtin, api_version, subresource=None):
    """Records a non-apply write (create/update/patch): the fields it changed become manager's."""
    entries = copy.deepcopy((old or {}).get("metadata", {}).get("managedFields") or [])
    if old is None:
        entries = copy.deepcopy((new.get("metadata") or {}).get("managedFields") or [])
    new_leaves = leaves(fieldset(new, schema, builtin))
    changed = set()
    for p in new_leaves:
        fo, vo = _lookup(old or {}, p)
        fn, vn = _lookup(new, p)
        if not fo or (p[-1] != "." and vo != vn):
            changed.add(p)
    out = []
    found = False
    for e in entries:
        owned = _entry_leaves(e) & new_leaves
        if e.get("manager") == manager and e.get("operation") == "Update" and e.get("subresource") == subresource:
            owned |= changed
            found = True
            e["time"] = now_rfc3339()
        else:
            owned -= changed
        if owned:
            e["fieldsV1"] = from_leaves(owned)
            out.append(e)
    if not found and changed:
        out.append(_entry(manager, "Update", api_version, from_leaves(changed), subresource))
    new.setdefault("metadata", {})["managedFields"] = out
    return new
