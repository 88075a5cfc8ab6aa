# Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf) for the
# few built-in kinds kubectl's typed clients write with it: `kubectl create namespace`,
# `create configmap`, `create secret generic` and `create serviceaccount`, and helm's release
# Secrets and their DeleteOptions. The envelope is the
# "k8s\0" magic followed by a runtime.Unknown message; field numbers follow k8s.io/api's
# generated.proto. Other kinds are refused with 415 by the caller (README.md says so).
import base64
import datetime

MAGIC = b"k8s\x00"

TIME = {1: ("seconds", "int64"), 2: ("nanos", "int32")}
OWNER_REF = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"), 5: ("apiVersion", "string"),
             6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"), 4: ("selfLink", "string"),
    5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int64"),
    8: ("creationTimestamp", TIME), 9: ("deletionTimestamp", TIME), 10: ("deletionGracePeriodSeconds", "int64"),
    11: ("labels", ("map", "string")), 12: ("annotations", ("map", "string")),
    13: ("ownerReferences", [OWNER_REF]), 14: ("finalizers", ["string"]),
}
OBJECT_REF = {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"), 4: ("uid", "string"),
              5: ("apiVersion", "string"), 6: ("resourceVersion", "string"), 7: ("fieldPath", "string")}
KINDS = {
    "Namespace": {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", ["string"])}), 3: ("status", {1: ("phase", "string")})},
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", ("map", "string")), 3: ("binaryData", ("map", "bytes")),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", OBJECT_META), 2: ("data", ("map", "bytes")), 3: ("type", "string"),
               4: ("stringData", ("map", "string")), 5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", OBJECT_META), 2: ("secrets", [OBJECT_REF]),
                       3: ("imagePullSecrets", [{1: ("name", "string")}]), 4: ("automountServiceAccountToken", "bool")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int64"), 2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"), 5: ("dryRun", ["string"])},
}
UNKNOWN = {1: ("typeMeta", {1: ("apiVersion", "string"), 2: ("kind", "string")}), 2: ("raw", "rawbytes"),
           3: ("contentEncoding", "string"), 4: ("contentType", "string")}


class ProtobufError(Exception):
    pass


def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos:pos + n], pos + n
        elif wire == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtobufError("unsupported wire type %d" % wire)
        yield num, val


def _scalar(typ, val):
    if typ == "string":
        return val.decode()
    if typ == "bytes":
        return base64.b64encode(val).decode()
    if typ == "rawbytes":
        return bytes(val)
    if typ == "bool":
        return bool(val)
    if typ in ("int64", "int32"):
        return val - (1 << 64) if val >= 1 << 63 else val
    raise ProtobufError("unknown type %r" % (typ,))


def decode_message(buf, schema):
    out = {}
    for num, val in _fields(buf):
        if num not in schema:
            continue
        name, typ = schema[num]
        if isinstance(typ, list):
            item = typ[0]
            out.setdefault(name, []).append(decode_message(val, item) if isinstance(item, dict) else _scalar(item, val))
        elif isinstance(typ, tuple) and typ[0] == "map":
            entry = decode_message(val, {1: ("key", "string"), 2: ("value", typ[1])})
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "" if typ[1] == "string" else "")
        elif typ is TIME:
            t = decode_message(val, TIME)
            if not t.get("seconds"):
                continue  # Go marshals a zero metav1.Time; JSON omits it
            out[name] = datetime.datetime.fromtimestamp(t.get("seconds", 0), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(typ, dict):
            out[name] = decode_message(val, typ)
        else:
            v = _scalar(typ, val)
            if v == "" or (typ in ("int64", "int32") and v == 0):
                continue  # Go writes non-pointer zero values; JSON (omitempty) leaves them out
            out[name] = v
    return out


def decode(body):
    """The JSON form of a protobuf-encoded built-in object; ProtobufError when it cannot."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    unknown = decode_message(body[len(MAGIC):], UNKNOWN)
    tm = unknown.get("typeMeta", {})
    kind = tm.get("kind", "")
    if kind not in KINDS:
        raise ProtobufError("the emulator decodes protobuf only for %s; send %s as JSON" % (", ".join(sorted(KINDS)), kind or "this object"))
    obj = decode_message(unknown.get("raw", b""), KINDS[kind])
    obj["apiVersion"] = tm.get("apiVersion", "v1")
    obj["kind"] = kind
    return obj
