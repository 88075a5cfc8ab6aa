# Patch formats the API server accepts, applied to plain JSON values:
#   merge_patch        application/merge-patch+json (RFC 7386)
#   json_patch         application/json-patch+json (RFC 6902)
#   strategic_patch    application/strategic-merge-patch+json, for built-in kinds: maps merge, lists
#                      with a known merge key (containers by name, env by name, conditions by type...)
#                      merge by key, other lists are replaced; $patch/$retainKeys/$setElementOrder
#                      and $deleteFromPrimitiveList directives are honoured in their common forms.
# PatchError carries the HTTP code and message the server answers with.
import copy
import json

from resources import BUILTIN_LIST_KEYS


class PatchError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _pointer(doc, path):
    if path == "":
        return None, None
    if not path.startswith("/"):
        raise PatchError(422, "Invalid", "the server rejected our request due to an error in our request: json pointer %r must start with /" % path)
    toks = [_unescape(t) for t in path[1:].split("/")]
    parent = doc
    for t in toks[:-1]:
        if isinstance(parent, dict) and t in parent:
            parent = parent[t]
        elif isinstance(parent, list) and t.isdigit() and int(t) < len(parent):
            parent = parent[int(t)]
        else:
            raise PatchError(422, "Invalid", 'the server rejected our request due to an error in our request: jsonpatch: doc is missing path: "%s"' % path)
    return parent, toks[-1]


def _get(doc, path):
    parent, key = _pointer(doc, path)
    if parent is None and key is None:
        return doc
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise PatchError(422, "Invalid", 'the server rejected our request due to an error in our request: jsonpatch: doc is missing path: "%s"' % path)


def _add(doc, path, value):
    parent, key = _pointer(doc, path)
    if parent is None and key is None:
        return value
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        elif key.isdigit() and int(key) <= len(parent):
            parent.insert(int(key), value)
        else:
            raise PatchError(422, "Invalid", "the server rejected our request due to an error in our request: jsonpatch: index out of range: %s" % path)
    else:
        raise PatchError(422, "Invalid", 'the server rejected our request due to an error in our request: jsonpatch: doc is missing path: "%s"' % path)
    return doc


def _remove(doc, path):
    parent, key = _pointer(doc, path)
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent.pop(int(key))
    raise PatchError(422, "Invalid", 'the server rejected our request due to an error in our request: jsonpatch: doc is missing path: "%s"' % path)


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise PatchError(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for op in ops:
        kind = op.get("op")
        path = op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            parent, key = _pointer(doc, path)
            if parent is None and key is None:
                doc = copy.deepcopy(op.get("value"))
            elif isinstance(parent, list):
                parent[int(key)] = copy.deepcopy(op.get("value"))
            else:
                parent[key] = copy.deepcopy(op.get("value"))
        elif kind == "move":
            v = _remove(doc, op["from"])
            doc = _add(doc, path, v)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(422, "Invalid", "the server rejected our request due to an error in our request: testing value %s failed: test failed" % path)
        else:
            raise PatchError(422, "Invalid", "the server rejected our request due to an error in our request: Unexpected kind: %s" % kind)
    return doc


def _item_key(item, keys):
    if not isinstance(item, dict):
        return None
    return tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)


def strategic_patch(target, patch, list_keys=None):
    list_keys = BUILTIN_LIST_KEYS if list_keys is None else list_keys
    return _smp(copy.deepcopy(target) if isinstance(target, dict) else {}, patch, list_keys)


def _smp(target, patch, list_keys):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    retain = patch.get("$retainKeys")
    out = target if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [x for x in out[name] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
            continue
        cur = out.get(k)
        if isinstance(v, dict):
            merged = _smp(cur if isinstance(cur, dict) else {}, v, list_keys)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list) and list_keys.get(k) and isinstance(cur, list):
            out[k] = _merge_keyed_list(cur, v, list_keys[k], list_keys)
        else:
            out[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        for k in list(out):
            if k not in retain:
                del out[k]
    return out


def _merge_keyed_list(cur, patch, keys, list_keys):
    out = [copy.deepcopy(x) for x in cur]
    for item in patch:
        if isinstance(item, dict) and item.get("$patch") == "replace" and len(item) == 1:
            out = []
            continue
        k = _item_key(item, keys)
        idx = next((i for i, x in enumerate(out) if _item_key(x, keys) == k), None)
        if isinstance(item, dict) and item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append({kk: vv for kk, vv in item.items() if not kk.startswith("$")} if isinstance(item, dict) else item)
        else:
            out[idx] = _smp(out[idx], item, list_keys)
    return out
