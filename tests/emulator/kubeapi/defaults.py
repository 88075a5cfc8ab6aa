# kube-apiserver's defaulting (and the few validations the controllers rely on) for the workload
# kinds the emulator's controllers run: Deployment, StatefulSet, ReplicaSet, Job and Pod (and a
# Secret's stringData merged into data, as the server decodes it), after
# k8s.io/kubernetes/pkg/apis/{apps,batch,core}/v1/defaults.go. Applied on create and on every
# write to the main resource (as the real server defaults each decoded object), never to status.
# Only fields a controller or kubectl reads are defaulted: replicas, strategies, history limits,
# progressDeadlineSeconds, the Job's selector and labels, and in pod specs restartPolicy,
# terminationGracePeriodSeconds, dnsPolicy, schedulerName and each container's
# terminationMessagePath/terminationMessagePolicy/imagePullPolicy.
import base64

import schema as schemas


def _pod_spec(spec, restart_policy="Always"):
    if not isinstance(spec, dict):
        return
    if restart_policy:
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            image = c.get("image") or ""
            tag = image.rsplit("/", 1)[-1]
            latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            c.setdefault("resources", {})


def _template(obj, restart_policy="Always"):
    t = (obj.get("spec") or {}).get("template")
    if isinstance(t, dict):
        if isinstance(t.get("metadata"), dict) and "creationTimestamp" in t["metadata"] and t["metadata"]["creationTimestamp"] is None:
            del t["metadata"]["creationTimestamp"]
        _pod_spec(t.setdefault("spec", {}), restart_policy)


def apply(t, obj):
    """Defaults obj (the served form of kind t.kind) in place."""
    spec = obj.get("spec")
    if t.group == "apps" and t.kind in ("Deployment", "StatefulSet", "ReplicaSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if t.kind != "ReplicaSet":
            spec.setdefault("revisionHistoryLimit", 10)
        _template(obj)
    if t.kind == "Deployment" and t.group == "apps" and isinstance(spec, dict):
        st = spec.setdefault("strategy", {})
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("progressDeadlineSeconds", 600)
    elif t.kind == "StatefulSet" and t.group == "apps" and isinstance(spec, dict):
        # SetDefaults_StatefulSet: an unset type becomes RollingUpdate with rollingUpdate {} ; a
        # rollingUpdate that is there gets partition 0 (an explicit type alone gets none).
        us = spec.setdefault("updateStrategy", {})
        if not us.get("type"):
            us["type"] = "RollingUpdate"
            us.setdefault("rollingUpdate", {})
        if us["type"] == "RollingUpdate" and isinstance(us.get("rollingUpdate"), dict):
            us["rollingUpdate"].setdefault("partition", 0)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif t.kind == "Job" and t.group == "batch" and isinstance(spec, dict):
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        _template(obj, restart_policy=None)
    elif t.kind == "Pod" and t.group == "" and isinstance(spec, dict):
        _pod_spec(spec)
    elif t.kind == "Secret" and t.group == "":
        # stringData is write-only: the API server merges it into data (base64, stringData wins)
        # when it decodes the object (core/v1 conversion), and defaults the type to Opaque.
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode("utf-8")).decode("ascii")
            obj["data"] = data
        obj.setdefault("type", "Opaque")


def job_selector(obj):
    """The Job's generated selector and template labels (batch/v1 Job create, manualSelector unset)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector"):
        return
    uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
    tl = tmeta.setdefault("labels", {})
    for k, v in labels.items():
        tl.setdefault(k, v)
    if not spec.get("selector"):
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    obj["metadata"].setdefault("labels", {})
    for k in ("batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name"):
        obj["metadata"]["labels"].setdefault(k, labels[k])


def validate(t, obj, old=None):
    """FieldErrors kube-apiserver would answer for the workload kinds (the ones controllers need)."""
    errs = []
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if t.group == "batch" and t.kind == "Job":
        rp = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        if rp not in ("OnFailure", "Never"):
            if rp is None:
                errs.append(schemas.FieldError("spec.template.spec.restartPolicy", "FieldValueRequired",
                                               'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'))
            else:
                errs.append(schemas.FieldError("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                                               'spec.template.spec.restartPolicy: Unsupported value: "%s": supported values: "OnFailure", "Never"' % rp))
        if old is not None:
            ot = (old.get("spec") or {}).get("template")
            if ot is not None and spec.get("template") != ot and not spec.get("suspend"):
                errs.append(schemas.FieldError("spec.template", "FieldValueInvalid",
                                               "spec.template: Invalid value: ...: field is immutable"))
    if t.group == "apps" and t.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        sel = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            errs.append(schemas.FieldError("spec.selector", "FieldValueRequired", "spec.selector: Required value"))
        else:
            for k, v in (sel.get("matchLabels") or {}).items():
                if labels.get(k) != v:
                    errs.append(schemas.FieldError("spec.template.metadata.labels", "FieldValueInvalid",
                                                   "spec.template.metadata.labels: Invalid value: %s: `selector` does not match template `labels`"
                                                   % schemas.go_value(labels)))
                    break
        if old is not None and (old.get("spec") or {}).get("selector") not in (None, sel):
            errs.append(schemas.FieldError("spec.selector", "FieldValueInvalid",
                                           "spec.selector: Invalid value: %s: field is immutable" % schemas.go_value(sel)))
    return errs
