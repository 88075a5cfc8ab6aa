# The Job controller, after k8s.io/kubernetes/pkg/controller/job (v1.32, NonIndexed jobs): pods
# from the template (generateName "<job>-", the labels the API server added: job-name,
# controller-uid and their batch.kubernetes.io/ forms, a controller ownerReference), at most
# spec.parallelism active and no more than completions still need; status startTime, active,
# ready, succeeded, failed, terminating, uncountedTerminatedPods, completionTime (success only);
# conditions as 1.32 writes them: SuccessCriteriaMet then Complete (reason CompletionsReached,
# "Reached expected number of succeeded pods"), FailureTarget then Failed once no pod is active
# (BackoffLimitExceeded "Job has reached the specified backoff limit": more failed pods than
# backoffLimit, or with restartPolicy OnFailure container restarts reaching it;
# DeadlineExceeded "Job was active longer than specified deadline" after activeDeadlineSeconds,
# its active pods deleted). Events SuccessfulCreate, Completed, BackoffLimitExceeded,
# DeadlineExceeded. ttlSecondsAfterFinished is gc_controller.TTLController's.
# Simplified: no delay between a failed pod and its replacement (the real one backs off 10 s,
# 20 s, ...), no Indexed completion mode, podFailurePolicy, successPolicy, suspend or
# pod finalizers (batch.kubernetes.io/job-tracking): failed/succeeded count the pods that exist
# (never less than the status already says).
import copy

import ctrl_util as u
from replicaset import pod_from_template

MSG_BACKOFF = "Job has reached the specified backoff limit"
MSG_DEADLINE = "Job was active longer than specified deadline"
MSG_DONE = "Reached expected number of succeeded pods"


def finished(job):
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return None


def _true(job, typ):
    c = u.get_condition(job.get("status"), typ)
    return c is not None and c.get("status") == "True"


class JobController:
    def sync(self, mgr):
        api = mgr.api
        pods = api.list("", "pods")
        for job in api.list("batch", "jobs"):
            ns = job["metadata"]["namespace"]
            owned = [p for p in pods if p["metadata"].get("namespace") == ns and u.controlled_by(p, job)]
            self.sync_one(mgr, job, owned)

    def sync_one(self, mgr, job, pods):
        api = mgr.api
        if finished(job) or job["metadata"].get("deletionTimestamp"):
            return
        spec = job.get("spec") or {}
        old = job.get("status") or {}
        status = copy.deepcopy(old)
        status.setdefault("startTime", u.rfc3339())
        active = [p for p in pods if u.pod_active(p)]
        succeeded = max(old.get("succeeded", 0), sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"))
        failed = max(old.get("failed", 0), sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed"))
        completions = spec.get("completions")
        parallelism = spec.get("parallelism", 1)
        backoff_limit = spec.get("backoffLimit", 6)
        rp = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")

        failure = None
        if _true(job, "FailureTarget"):
            c = u.get_condition(old, "FailureTarget")
            failure = (c.get("reason"), c.get("message"))
        else:
            restarts = 0
            if rp == "OnFailure":
                for p in active:
                    for cs in ((p.get("status") or {}).get("initContainerStatuses") or []) + ((p.get("status") or {}).get("containerStatuses") or []):
                        restarts += cs.get("restartCount", 0)
            past_on_failure = rp == "OnFailure" and (restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit)
            if failed > backoff_limit or past_on_failure:
                failure = ("BackoffLimitExceeded", MSG_BACKOFF)
            ads = spec.get("activeDeadlineSeconds")
            if failure is None and ads is not None:
                since = u.seconds_since(status["startTime"])
                if since is not None and since >= ads:
                    failure = ("DeadlineExceeded", MSG_DEADLINE)
                elif since is not None:
                    mgr.requeue_after(ads - since + 0.05)
        done = completions is not None and succeeded >= completions or \
            (completions is None and succeeded > 0 and not active)

        if failure is not None:
            if not _true(job, "FailureTarget"):
                u.set_condition(status, u.condition("FailureTarget", "True", failure[0], failure[1]))
                u.record_event(api, job, "Warning", failure[0], failure[1], "job-controller")
            for p in active:
                api.delete("", "pods", p["metadata"]["namespace"], p["metadata"]["name"], u.uid(p))
            if not active:
                u.set_condition(status, u.condition("Failed", "True", failure[0], failure[1]))
            active = []
        elif done:
            if not _true(job, "SuccessCriteriaMet"):
                u.set_condition(status, u.condition("SuccessCriteriaMet", "True", "CompletionsReached", MSG_DONE))
            for p in active:
                api.delete("", "pods", p["metadata"]["namespace"], p["metadata"]["name"], u.uid(p))
            if not active:
                u.set_condition(status, u.condition("Complete", "True", "CompletionsReached", MSG_DONE))
                status["completionTime"] = u.rfc3339()
                u.record_event(api, job, "Normal", "Completed", "Job completed", "job-controller")
            active = []
        else:
            want = parallelism if completions is None else min(parallelism, completions - succeeded)
            for _ in range(max(0, want - len(active))):
                p = pod_from_template(spec.get("template"), job, "batch/v1", "Job",
                                      generate_name=job["metadata"]["name"] + "-")
                created = api.create("", "pods", job["metadata"]["namespace"], p)
                if created is not None:
                    active.append(created)
                    u.record_event(api, job, "Normal", "SuccessfulCreate", "Created pod: %s" % created["metadata"]["name"],
                                   "job-controller")
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if u.pod_ready(p))
        status["succeeded"] = succeeded
        status["failed"] = failed
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        for k in ("active", "succeeded", "failed"):
            if not status[k]:
                del status[k]
        status = {k: status[k] for k in ("conditions", "startTime", "completionTime", "active", "succeeded", "failed",
                                         "terminating", "uncountedTerminatedPods", "ready") if k in status}
        if status != old:
            j2 = copy.deepcopy(job)
            j2["status"] = status
            api.update("batch", "jobs", j2, status=True)
