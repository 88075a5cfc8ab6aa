# The emulator's one node: scheduler and kubelet. Every pod without spec.nodeName is bound to the
# node "kubeemu-node"; then its containers run through a container runtime (kubelet_sim.py by
# default, kubelet_podman.py with --kubelet podman) and the pod's status is written the way the
# kubelet reports it: phase (Pending/Running/Succeeded/Failed), conditions
# PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled (transition times
# kept), hostIP/podIP 127.0.0.1, startTime, qosClass, and per container name, image, imageID,
# containerID, ready, started, restartCount, state and lastState (waiting ContainerCreating /
# PodInitializing / ErrImagePull / ImagePullBackOff / CreateContainerConfigError /
# CrashLoopBackOff, running startedAt, terminated exitCode/reason/message/startedAt/finishedAt).
# initContainers run one at a time in order before the others; restartPolicy Always/OnFailure/Never
# decides restarts; a container that keeps failing waits in CrashLoopBackOff with a doubling back-off
# (--crash-backoff seconds at first, at most 16 times that; the real kubelet's is 10 s to 5 min).
# The termination message is the runtime's terminationMessagePath file, or with
# FallbackToLogsOnError and a failure, the last 80 lines (2048 bytes at most) of the log. Logs are
# served from here for the pods/log subresource (container, tailLines, previous).
# Simplified: deleting a pod removes it at once (no graceful termination or Terminating phase);
# no liveness/startup probes; a readiness probe is honoured only by the podman runtime (exec).
import copy
import hashlib

import ctrl_util as u
from store import ApiError

NODE = "kubeemu-node"


class StartError(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


def go_duration(seconds):
    if seconds < 1:
        return "%dms" % int(seconds * 1000)
    if seconds == int(seconds):
        s = int(seconds)
        return "%dm%ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s
    return "%gs" % seconds


class Container:
    def __init__(self, spec, init):
        self.spec = spec
        self.name = spec.get("name", "")
        self.image = spec.get("image", "")
        self.init = init
        self.restart_count = 0
        self.state = {"waiting": {"reason": "PodInitializing" if not init else "ContainerCreating"}}
        self.last_state = {}
        self.handle = None
        self.log_handle = None      # the latest container (running or exited)
        self.prev_handle = None     # the one before it (logs --previous)
        self.retry_at = None
        self.backoff = 0.0
        self.ready = False
        self.started = False
        self.ever_ran = False
        self.done = False
        self.failed = False
        self.container_id = None
        self.image_id = ""


class PodRun:
    def __init__(self, pod):
        spec = pod.get("spec") or {}
        self.uid = pod["metadata"]["uid"]
        self.ns = pod["metadata"].get("namespace")
        self.name = pod["metadata"]["name"]
        self.inits = [Container(c, True) for c in spec.get("initContainers") or []]
        self.mains = [Container(c, False) for c in spec.get("containers") or []]
        if not self.inits:
            for c in self.mains:
                c.state = {"waiting": {"reason": "ContainerCreating"}}
        self.init_done = not self.inits
        self.init_failed = False
        self.start_time = u.rfc3339()
        self.cond_times = {}
        self.finished = False


class Kubelet:
    def __init__(self, runtime, crash_backoff=0.5):
        self.runtime = runtime
        self.crash_backoff = crash_backoff
        self.pods = {}   # uid -> PodRun

    # -- the pass ----------------------------------------------------------------------------------
    def sync(self, mgr):
        api = mgr.api
        seen = set()
        for p in api.list("", "pods"):
            puid = p["metadata"]["uid"]
            seen.add(puid)
            if not (p.get("spec") or {}).get("nodeName"):
                p2 = copy.deepcopy(p)
                p2.setdefault("spec", {})["nodeName"] = NODE
                api.update("", "pods", p2, manager="kube-scheduler")
                continue
            if p["spec"]["nodeName"] != NODE:
                continue
            pr = self.pods.get(puid)
            if p["metadata"].get("deletionTimestamp"):
                if pr is not None:
                    self.forget(puid)
                continue
            if pr is None:
                if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue   # finished before an emulator restart: leave as it is
                pr = self.pods[puid] = PodRun(p)
            if not pr.finished:
                self.step(mgr, pr, p)
            status = self.status(pr, p)
            if status != p.get("status"):
                p2 = copy.deepcopy(p)
                p2["status"] = status
                api.update("", "pods", p2, manager="kubelet", status=True)
        for puid in [k for k in self.pods if k not in seen]:
            self.forget(puid)

    def forget(self, puid):
        pr = self.pods.pop(puid, None)
        if pr is None:
            return
        for c in pr.inits + pr.mains:
            for h in {id(x): x for x in (c.handle, c.log_handle, c.prev_handle) if x is not None}.values():
                self.runtime.remove(h)
        self.runtime.pod_gone(puid)

    def shutdown(self):
        for puid in list(self.pods):
            self.forget(puid)
        self.runtime.shutdown()

    # -- containers ---------------------------------------------------------------------------------
    def step(self, mgr, pr, pod):
        rp = pod["spec"].get("restartPolicy") or "Always"
        if not pr.init_done:
            for c in pr.inits:
                if c.done:
                    continue
                self.step_container(mgr, pr, pod, c, "Never" if rp == "Never" else "OnFailure")
                if c.done and not c.failed:
                    continue
                if c.failed:
                    pr.init_failed = True
                    pr.finished = True
                break
            else:
                pr.init_done = True
                for c in pr.mains:
                    c.state = {"waiting": {"reason": "ContainerCreating"}}
        if pr.init_done:
            for c in pr.mains:
                self.step_container(mgr, pr, pod, c, rp)
            if rp != "Always" and all(c.done for c in pr.mains):
                pr.finished = True

    def step_container(self, mgr, pr, pod, c, rp, depth=0):
        now = u.monotonic()
        if c.done:
            return
        if c.handle is None:
            if c.retry_at is not None and now < c.retry_at:
                mgr.requeue_after(c.retry_at - now)
                return
            try:
                h = self.runtime.start(pod, c.spec, {"init": c.init, "restart_policy": rp, "api": mgr.api,
                                                     "restart_count": c.restart_count + (1 if c.ever_ran else 0)})
            except StartError as e:
                reason, message = e.reason, e.message
                if reason == "ErrImagePull" and (c.state.get("waiting") or {}).get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                    reason, message = "ImagePullBackOff", 'Back-off pulling image "%s"' % c.image
                c.state = {"waiting": {"reason": reason, "message": message}}
                c.backoff = self.crash_backoff if not c.backoff else min(c.backoff * 2, self.crash_backoff * 16)
                c.retry_at = now + c.backoff
                mgr.requeue_after(c.backoff)
                return
            if c.ever_ran:
                c.restart_count += 1
            c.handle = h
            if c.log_handle is not None and c.log_handle is not c.prev_handle:
                if c.prev_handle is not None:
                    self.runtime.remove(c.prev_handle)
                c.prev_handle = c.log_handle
            c.log_handle = h
            c.ever_ran = True
            c.started = True
            c.container_id = self.runtime.container_id(h)
            c.image_id = self.runtime.image_id(h)
            c.state = {"running": {"startedAt": u.rfc3339()}}
        res = self.runtime.poll(h=c.handle, manager=mgr)
        if res[0] == "running":
            c.ready = bool(res[1]) and not c.init
            return
        _, code, file_message = res
        started_at = (c.state.get("running") or {}).get("startedAt") or u.rfc3339()
        term = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
        msg = self.termination_message(c, code, file_message)
        if msg:
            term["message"] = msg
        term.update({"startedAt": started_at, "finishedAt": u.rfc3339(), "containerID": c.container_id})
        c.handle = None
        c.ready = False
        c.started = False
        restart = rp == "Always" or (rp == "OnFailure" and code != 0)
        if not restart:
            c.state = {"terminated": term}
            c.done = True
            c.failed = code != 0
            return
        c.last_state = {"terminated": term}
        if c.restart_count == 0 and depth == 0:
            return self.step_container(mgr, pr, pod, c, rp, depth + 1)   # the first restart is immediate
        c.backoff = self.crash_backoff if not c.backoff else min(c.backoff * 2, self.crash_backoff * 16)
        c.retry_at = now + c.backoff
        c.state = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off %s restarting failed container=%s pod=%s_%s(%s)" % (
            go_duration(c.backoff), c.name, pr.name, pr.ns, pr.uid)}}
        mgr.requeue_after(c.backoff)

    def termination_message(self, c, code, file_message):
        if file_message:
            return file_message[:4096]
        if c.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError" and code != 0 and c.log_handle is not None:
            lines = self.runtime.logs(c.log_handle).splitlines()[-80:]
            text = "\n".join(lines)
            return text[-2048:]
        return ""

    # -- status -------------------------------------------------------------------------------------
    def cstatus(self, c):
        s = {"name": c.name, "state": copy.deepcopy(c.state), "lastState": copy.deepcopy(c.last_state),
             "ready": c.ready, "restartCount": c.restart_count, "image": c.image, "imageID": c.image_id}
        if c.container_id:
            s["containerID"] = c.container_id
        s["started"] = c.started
        return s

    def phase(self, pr, pod):
        rp = pod["spec"].get("restartPolicy") or "Always"
        if pr.init_failed:
            return "Failed"
        if not pr.init_done:
            return "Pending"
        if rp != "Always" and pr.mains and all(c.done for c in pr.mains):
            return "Failed" if any(c.failed for c in pr.mains) else "Succeeded"
        if any(c.ever_ran for c in pr.mains):
            return "Running"
        return "Pending"

    def cond(self, pr, typ, status, reason=None, message=None):
        prev = pr.cond_times.get(typ)
        if prev is None or prev[0] != status:
            pr.cond_times[typ] = (status, u.rfc3339())
        c = {"type": typ, "status": status, "lastProbeTime": None, "lastTransitionTime": pr.cond_times[typ][1]}
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        return c

    def status(self, pr, pod):
        phase = self.phase(pr, pod)
        terminal = phase in ("Succeeded", "Failed")
        conds = [self.cond(pr, "PodReadyToStartContainers", "False" if terminal else "True")]
        if pr.init_done or terminal and not pr.init_failed:
            conds.append(self.cond(pr, "Initialized", "True"))
        else:
            pending = [c.name for c in pr.inits if not c.done or c.failed]
            conds.append(self.cond(pr, "Initialized", "False", "ContainersNotInitialized",
                                   "containers with incomplete status: [%s]" % " ".join(pending)))
        unready = [c.name for c in pr.mains if not c.ready]
        if terminal:
            conds.append(self.cond(pr, "Ready", "False", "PodCompleted"))
            conds.append(self.cond(pr, "ContainersReady", "False", "PodCompleted"))
        elif unready:
            msg = "containers with unready status: [%s]" % " ".join(unready)
            conds.append(self.cond(pr, "Ready", "False", "ContainersNotReady", msg))
            conds.append(self.cond(pr, "ContainersReady", "False", "ContainersNotReady", msg))
        else:
            conds.append(self.cond(pr, "Ready", "True"))
            conds.append(self.cond(pr, "ContainersReady", "True"))
        conds.append(self.cond(pr, "PodScheduled", "True"))
        st = {"phase": phase, "conditions": conds, "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
              "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}], "startTime": pr.start_time}
        if pr.inits:
            st["initContainerStatuses"] = [self.cstatus(c) for c in pr.inits]
        st["containerStatuses"] = [self.cstatus(c) for c in pr.mains]
        st["qosClass"] = qos_class(pod["spec"])
        return st

    # -- logs (pods/log) ----------------------------------------------------------------------------
    def logs(self, pod, container=None, previous=False, tail=None):
        name = pod["metadata"]["name"]
        pr = self.pods.get(pod["metadata"]["uid"])
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        all_names = names + [c.get("name") for c in spec.get("initContainers") or []]
        if not container:
            if len(names) != 1:
                ann = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
                if ann in all_names:
                    container = ann
                else:
                    raise ApiError(400, "BadRequest", "a container name must be specified for pod %s, choose one of: [%s]" % (
                        name, " ".join(names)) + (" or one of the init containers: [%s]" % " ".join(all_names[len(names):]) if len(all_names) > len(names) else ""))
            else:
                container = names[0]
        if container not in all_names:
            raise ApiError(400, "BadRequest", "container %s is not valid for pod %s" % (container, name))
        c = None
        if pr is not None:
            c = next((x for x in pr.inits + pr.mains if x.name == container), None)
        if previous:
            if c is None or c.prev_handle is None:
                raise ApiError(400, "BadRequest", 'previous terminated container "%s" in pod "%s" not found' % (container, name))
            text = self.runtime.logs(c.prev_handle)
        else:
            if c is None or c.log_handle is None:
                reason = "ContainerCreating"
                if c is not None:
                    reason = (c.state.get("waiting") or {}).get("reason") or reason
                raise ApiError(400, "BadRequest", 'container "%s" in pod "%s" is waiting to start: %s' % (container, name, reason))
            text = self.runtime.logs(c.log_handle)
        if tail is not None:
            lines = text.splitlines(True)
            text = "".join(lines[-tail:]) if tail > 0 else ""
        return text


def qos_class(spec):
    reqs = lims = False
    guaranteed = True
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        r = c.get("resources") or {}
        rq, lm = r.get("requests") or {}, r.get("limits") or {}
        reqs = reqs or bool(rq)
        lims = lims or bool(lm)
        if not lm or set(lm) < {"cpu", "memory"} or any(rq.get(k, lm[k]) != lm[k] for k in lm):
            guaranteed = False
    if not reqs and not lims:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def image_digest(image):
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()
