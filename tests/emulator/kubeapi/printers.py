# kubectl get columns for the workload kinds the controllers run, after
# k8s.io/kubernetes/pkg/printers/internalversion: Pods (READY, STATUS as printPod derives it from
# the container states: CrashLoopBackOff, ImagePullBackOff, Init:0/1, Completed, Error...,
# RESTARTS with "(Xs ago)", AGE), ReplicaSets (DESIRED, CURRENT, READY), StatefulSets (READY) and
# Jobs (STATUS, COMPLETIONS, DURATION). discovery.table uses columns(t).


def _status_reason(pod):
    st = pod.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    inits = st.get("initContainerStatuses") or []
    initializing = False
    for i, c in enumerate(inits):
        s = c.get("state") or {}
        term, wait = s.get("terminated"), s.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or "ExitCode:%d" % term.get("exitCode", 0))
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = "Init:%d/%d" % (i, len((pod.get("spec") or {}).get("initContainers") or []))
        initializing = True
        break
    if not initializing:
        has_running = False
        for c in reversed(st.get("containerStatuses") or []):
            s = c.get("state") or {}
            if (s.get("waiting") or {}).get("reason"):
                reason = s["waiting"]["reason"]
            elif (s.get("terminated") or {}).get("reason"):
                reason = s["terminated"]["reason"]
            elif s.get("terminated"):
                reason = "ExitCode:%d" % s["terminated"].get("exitCode", 0)
            elif s.get("running") and c.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def pod_cells(pod, age):
    st = pod.get("status") or {}
    cs = st.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in cs)
    last = None
    for c in cs:
        fin = ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if fin and (last is None or fin > last):
            last = fin
    r = str(restarts)
    if restarts and last:
        r = "%d (%s ago)" % (restarts, age(last))
    return [pod["metadata"]["name"], "%d/%d" % (ready, total), _status_reason(pod), r,
            age(pod["metadata"].get("creationTimestamp"))]


def job_status(job):
    true = {c.get("type") for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}
    if "Complete" in true:
        return "Complete"
    if "Failed" in true:
        return "Failed"
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for t in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if t in true:
            return t
    return "Running"


def columns(t, col, age_col, age, duration):
    """(column definitions, cells function) for t, or None."""
    name_col = {"name": "Name", "type": "string", "format": "name", "priority": 0, "description": "Name"}
    if t.kind == "Pod" and t.group == "":
        return [name_col, col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
                col("Status", desc="The aggregate status of the containers in this pod."),
                col("Restarts", desc="The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                age_col], lambda o: pod_cells(o, age)
    if t.kind == "ReplicaSet":
        return [name_col, col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"), age_col], \
            lambda o: [o["metadata"]["name"], (o.get("spec") or {}).get("replicas", 1), (o.get("status") or {}).get("replicas", 0),
                       (o.get("status") or {}).get("readyReplicas", 0), age(o["metadata"].get("creationTimestamp"))]
    if t.kind == "StatefulSet":
        return [name_col, col("Ready"), age_col], \
            lambda o: [o["metadata"]["name"], "%d/%d" % ((o.get("status") or {}).get("readyReplicas", 0), (o.get("spec") or {}).get("replicas", 1)),
                       age(o["metadata"].get("creationTimestamp"))]
    if t.kind == "Job" and t.group == "batch":
        def job(o):
            st, sp = o.get("status") or {}, o.get("spec") or {}
            comp = sp.get("completions")
            completions = "%d/%d" % (st.get("succeeded", 0), comp) if comp is not None else "%d/1 of %d" % (st.get("succeeded", 0), sp.get("parallelism", 1))
            dur = ""
            if st.get("startTime"):
                dur = duration(st["startTime"], st.get("completionTime"))
            return [o["metadata"]["name"], job_status(o), completions, dur, age(o["metadata"].get("creationTimestamp"))]
        return [name_col, col("Status"), col("Completions"), col("Duration"), age_col], job
    return None
