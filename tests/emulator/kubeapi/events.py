# core/v1 Event and events.k8s.io/v1 Event are one storage in kube-apiserver: an event written
# through either API is readable through both (kubectl describe reads core/v1). The emulator stores
# the core/v1 form and converts, after k8s.io/kubernetes/pkg/apis/events/v1 conversion; validation
# is the events.k8s.io/v1 create validation's common checks.
import copy

from schema import FieldError, go_value

# events.k8s.io/v1 field -> core/v1 field
_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_BACK = {v: k for k, v in _RENAMES.items()}


def to_core(ev):
    out = {}
    for k, v in ev.items():
        out[_RENAMES.get(k, k)] = copy.deepcopy(v)
    out["apiVersion"] = "v1"
    out["kind"] = "Event"
    return out


def from_core(ev):
    out = {}
    for k, v in ev.items():
        out[_BACK.get(k, k)] = copy.deepcopy(v)
    out["apiVersion"] = "events.k8s.io/v1"
    out["kind"] = "Event"
    return out


def validate_v1_create(ev):
    errs = []

    def req(field):
        if not ev.get(field):
            errs.append(FieldError(field, "FieldValueRequired", "%s: Required value" % field))

    req("eventTime")
    if ev.get("type") not in ("Normal", "Warning"):
        errs.append(FieldError("type", "FieldValueInvalid", 'type: Invalid value: "": has invalid value: %s' % (ev.get("type") or "")))
    for f in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
        if ev.get(f):
            errs.append(FieldError(f, "FieldValueInvalid", '%s: Invalid value: "": needs to be unset' % f))
    if ev.get("deprecatedCount"):
        errs.append(FieldError("deprecatedCount", "FieldValueInvalid", 'deprecatedCount: Invalid value: "": needs to be unset'))
    req("reportingController")
    req("reportingInstance")
    req("action")
    req("reason")
    for f, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        if len(ev.get(f) or "") > limit:
            errs.append(FieldError(f, "FieldValueInvalid", "%s: Invalid value: %s: can have at most %d characters" % (f, go_value(ev[f]), limit)))
    if len(ev.get("note") or "") > 1024:
        errs.append(FieldError("note", "FieldValueInvalid", "note: Invalid value: \"\": can have at most 1024 characters"))
    series = ev.get("series")
    if series is not None:
        if (series.get("count") or 0) < 2:
            errs.append(FieldError("series.count", "FieldValueInvalid", "series.count: Invalid value: \"\": should be at least 2"))
        if not series.get("lastObservedTime"):
            errs.append(FieldError("series.lastObservedTime", "FieldValueRequired", "series.lastObservedTime: Required value"))
    return errs
