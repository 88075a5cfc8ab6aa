# Structural-schema handling of custom resources, as kube-apiserver does it for
# apiextensions.k8s.io/v1 CRDs: prune() drops fields the openAPIV3Schema does not declare
# (unless x-kubernetes-preserve-unknown-fields), validate() checks types, required, enum, pattern,
# lengths, bounds, item counts, date-time format and list-map key uniqueness and returns
# FieldErrors worded like kube-openapi's, so a 422 names the field exactly as a real server would.
# validate_cel() evaluates x-kubernetes-validations rules with cel.py (a CEL subset; transition
# rules with oldSelf are skipped: README.md says so).
import datetime
import json
import re

import cel

OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
}


class FieldError:
    def __init__(self, field, reason, message):
        self.field = field
        self.reason = reason      # FieldValueInvalid, FieldValueRequired, ...
        self.message = message    # the full "field: detail" text
        prefix = field + ": "
        self.detail = message[len(prefix):] if message.startswith(prefix) else message

    def cause(self):
        return {"reason": self.reason, "message": self.detail, "field": self.field}


def go_value(v):
    """A value as Go's %v/%q prints it in apimachinery field errors."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return json.dumps(json.dumps(v, separators=(",", ":")))


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _join(path, key):
    return key if not path else path + "." + key


# -- pruning -----------------------------------------------------------------------------------

def prune(schema, obj, root=True):
    """Removes undeclared fields in place; returns the dotted paths removed."""
    removed = []
    if root and isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            for k in list(meta):
                if k not in OBJECT_META_FIELDS:
                    removed.append("metadata." + k)
                    del meta[k]
    _prune(schema or {}, obj, "", removed, root)
    return removed


def _prune(s, v, path, removed, root=False):
    if s.get("x-kubernetes-preserve-unknown-fields") and not s.get("properties") and not s.get("items"):
        return
    if isinstance(v, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        embedded = s.get("x-kubernetes-embedded-resource") or root
        for k in list(v):
            if embedded and k in ("apiVersion", "kind", "metadata"):
                continue
            if props is not None and k in props:
                _prune(props[k], v[k], _join(path, k), removed)
            elif isinstance(addl, dict):
                _prune(addl, v[k], _join(path, k), removed)
            elif addl is True or s.get("x-kubernetes-preserve-unknown-fields"):
                continue
            else:
                removed.append(_join(path, k))
                del v[k]
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for i, item in enumerate(v):
            _prune(s["items"], item, "%s[%d]" % (path, i), removed)


# -- validation --------------------------------------------------------------------------------

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _go_regex(p):
    # RE2 and Python agree on the syntax CRDs use; \z is Go's end of text.
    return p.replace("\\z", "\\Z")


def validate(schema, obj, path=""):
    errs = []
    _validate(schema or {}, obj, path, errs, root=True)
    return errs


def _type_ok(t, v):
    jt = json_type(v)
    if t == "number":
        return jt in ("integer", "number")
    if t == "integer":
        return jt == "integer" or (jt == "number" and float(v).is_integer())
    return jt == t


def _validate(s, v, path, errs, root=False):
    shown = path or "<root>"
    if v is None:
        if s.get("nullable"):
            return
        if s.get("type"):
            errs.append(FieldError(shown, "FieldValueTypeInvalid", '%s: Invalid value: "null": %s in body must be of type %s: "null"' % (shown, shown, s["type"])))
        return
    t = s.get("type")
    if t and not _type_ok(t, v):
        jt = json_type(v)
        errs.append(FieldError(shown, "FieldValueTypeInvalid", '%s: Invalid value: "%s": %s in body must be of type %s: "%s"' % (shown, jt, shown, t, jt)))
        return
    if "enum" in s and v not in s["enum"]:
        supported = ", ".join(go_value(e) for e in s["enum"])
        errs.append(FieldError(shown, "FieldValueNotSupported", "%s: Unsupported value: %s: supported values: %s" % (shown, go_value(v), supported)))
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(FieldError(shown, "FieldValueTooLong", "%s: Too long: may not be more than %d bytes" % (shown, s["maxLength"])))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(FieldError(shown, "FieldValueInvalid", "%s: Invalid value: %s: %s in body should be at least %d chars long" % (shown, go_value(v), shown, s["minLength"])))
        if "pattern" in s and not re.search(_go_regex(s["pattern"]), v):
            errs.append(FieldError(shown, "FieldValueInvalid", "%s: Invalid value: %s: %s in body should match '%s'" % (shown, go_value(v), shown, s["pattern"])))
        if s.get("format") == "date-time" and not _DATE_TIME.match(v):
            errs.append(FieldError(shown, "FieldValueInvalid", '%s: Invalid value: %s: %s in body must be of type date-time: %s' % (shown, go_value(v), shown, go_value(v))))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s:
            if s.get("exclusiveMinimum") and v <= s["minimum"]:
                errs.append(FieldError(shown, "FieldValueInvalid", "%s: Invalid value: %s: %s in body should be greater than %s" % (shown, go_value(v), shown, go_value(s["minimum"]))))
            elif v < s["minimum"]:
                errs.append(FieldError(shown, "FieldValueInvalid", "%s: Invalid value: %s: %s in body should be greater than or equal to %s" % (shown, go_value(v), shown, go_value(s["minimum"]))))
        if "maximum" in s:
            if s.get("exclusiveMaximum") and v >= s["maximum"]:
                errs.append(FieldError(shown, "FieldValueInvalid", "%s: Invalid value: %s: %s in body should be less than %s" % (shown, go_value(v), shown, go_value(s["maximum"]))))
            elif v > s["maximum"]:
                errs.append(FieldError(shown, "FieldValueInvalid", "%s: Invalid value: %s: %s in body should be less than or equal to %s" % (shown, go_value(v), shown, go_value(s["maximum"]))))
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(FieldError(shown, "FieldValueInvalid", "%s: Invalid value: %d: %s in body should have at least %d items" % (shown, len(v), shown, s["minItems"])))
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append(FieldError(shown, "FieldValueTooMany", "%s: Too many: %d: must have at most %d items" % (shown, len(v), s["maxItems"])))
        keys = s.get("x-kubernetes-list-map-keys")
        if s.get("x-kubernetes-list-type") == "map" and keys:
            seen = set()
            for i, item in enumerate(v):
                if isinstance(item, dict):
                    k = tuple(json.dumps(item.get(key)) for key in keys)
                    if k in seen:
                        key_text = ", ".join('"%s":%s' % (key, json.dumps(item.get(key))) for key in keys)
                        errs.append(FieldError("%s[%d]" % (path, i), "FieldValueDuplicate", "%s[%d]: Duplicate value: map[string]interface {}{%s}" % (path, i, key_text)))
                    seen.add(k)
        if isinstance(s.get("items"), dict):
            for i, item in enumerate(v):
                _validate(s["items"], item, "%s[%d]" % (path, i), errs)
    if isinstance(v, dict):
        for r in s.get("required", []):
            if r not in v:
                p = _join(path, r)
                errs.append(FieldError(p, "FieldValueRequired", "%s: Required value" % p))
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, item in v.items():
            if root and k in ("apiVersion", "kind", "metadata"):
                continue
            if k in props:
                _validate(props[k], item, _join(path, k), errs)
            elif isinstance(addl, dict):
                _validate(addl, item, _join(path, k), errs)


# -- CEL rules ------------------------------------------------------------------------------------

def validate_cel(schema, obj, path=""):
    """FieldErrors of the x-kubernetes-validations rules (rules with oldSelf are transition rules,
    checked only on update by a real server: skipped here)."""
    errs = []
    _cel(schema or {}, obj, path, errs, True)
    return errs


def _cel(s, v, path, errs, root=False):
    if v is None or (s.get("type") and not _type_ok(s["type"], v)):
        return
    shown = path or "<root>"
    for rule in s.get("x-kubernetes-validations") or []:
        src = rule.get("rule", "")
        if "oldSelf" in src:
            continue
        field = shown
        if rule.get("fieldPath"):
            field = (path + rule["fieldPath"]) if path else rule["fieldPath"].lstrip(".")
        typ = s.get("type", "object")
        try:
            ok = cel.check(src, v)
            detail = rule.get("message") or "failed rule: %s" % src.strip()
        except cel.CelError as e:
            ok, detail = False, "%s evaluating rule: %s" % (e, src.strip())
        if not ok:
            errs.append(FieldError(field, rule.get("reason") or "FieldValueInvalid", '%s: Invalid value: "%s": %s' % (field, typ, detail)))
    if isinstance(v, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, item in v.items():
            if root and k in ("apiVersion", "kind", "metadata"):
                continue
            if k in props:
                _cel(props[k], item, _join(path, k), errs)
            elif isinstance(addl, dict):
                _cel(addl, item, _join(path, k), errs)
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for i, item in enumerate(v):
            _cel(s["items"], item, "%s[%d]" % (path, i), errs)


# -- object metadata -----------------------------------------------------------------------------

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def validate_name(name, label=False):
    """apimachinery's name checks (DNS-1123 subdomain, or label for namespaces)."""
    if label:
        if len(name) > 63:
            return "must be no more than 63 characters"
        if not _DNS1123_LABEL.match(name):
            return ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
        return None
    if len(name) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.match(name):
        return ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    return None


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s):
    try:
        s = s.replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(s)
    except (ValueError, AttributeError):
        return None
