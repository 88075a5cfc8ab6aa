# The emulator's kube-controller-manager and kubelet loop: one thread that runs every controller
# (Deployment, ReplicaSet, StatefulSet, Job, TTL-after-finished, garbage collector) and the
# kubelet over the whole store whenever the store changed (level-triggered passes, repeated
# until a pass writes nothing), or when a controller asked to look again at a time (a progress
# deadline, minReadySeconds, a crash-loop back-off, a Job's TTL), or when something outside the
# store happened (a podman container exited; the image rules changed). Controllers are objects
# with sync(mgr); they read and write the store directly (no HTTP), as the field manager
# kube-controller-manager (the kubelet as kubelet). stop() ends the loop and lets the kubelet
# remove what it started.
import sys
import threading
import time
import traceback

import ctrl_util


class Manager:
    def __init__(self, store, kubelet=None, controllers=None):
        self.store = store
        self.api = ctrl_util.Api(store)
        self.kubelet = kubelet
        self.controllers = controllers or []
        self.due = None
        self.kicked = False
        self.stopping = False
        self.thread = None
        self.lock = threading.Lock()
        self.passes = 0
        self.reported = set()

    def requeue_after(self, seconds):
        """Run a pass again after seconds at the latest."""
        with self.lock:
            at = time.monotonic() + max(0.0, seconds)
            if self.due is None or at < self.due:
                self.due = at

    def kick(self):
        """Run a pass soon (something outside the store changed)."""
        with self.store.lock:
            self.kicked = True
            self.store.cond.notify_all()

    def start(self):
        self.thread = threading.Thread(target=self._run, name="controllers", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        with self.store.lock:
            self.stopping = True
            self.store.cond.notify_all()
        if self.thread:
            self.thread.join(timeout=30)
        if self.kubelet:
            self.kubelet.shutdown()

    def _run(self):
        last = -1
        while True:
            with self.store.lock:
                while not self.stopping and self.store.rv == last and not self.kicked:
                    with self.lock:
                        due = self.due
                    if due is not None and due <= time.monotonic():
                        break
                    timeout = 1.0 if due is None else min(1.0, due - time.monotonic())
                    self.store.cond.wait(max(0.001, timeout))
                if self.stopping or self.store.stopping:
                    return
                last = self.store.rv
                self.kicked = False
            with self.lock:
                self.due = None
            self.passes += 1
            for c in self.controllers + ([self.kubelet] if self.kubelet else []):
                try:
                    c.sync(self)
                except Exception:  # a controller bug must not stop the others
                    tb = traceback.format_exc()
                    if tb not in self.reported:  # once each: stderr may be a pipe nobody reads
                        self.reported.add(tb)
                        sys.stderr.write("kubeapi: controller %s failed:\n%s" % (type(c).__name__, tb))
                        sys.stderr.flush()
                    self.requeue_after(1.0)


def build(store, kubelet_kind="simulated", image_rules=None, crash_backoff=0.5, instance=None, cluster=None,
          claims_dir=None):
    """The controller manager with every controller and the chosen kubelet."""
    import deployment
    import gc_controller
    import job
    import kubelet
    import replicaset
    import statefulset
    if kubelet_kind == "podman":
        import kubelet_podman
        runtime = kubelet_podman.PodmanRuntime(instance, cluster, claims_dir)
    else:
        import kubelet_sim
        runtime = kubelet_sim.SimRuntime(image_rules)
    kl = kubelet.Kubelet(runtime, crash_backoff=crash_backoff)
    ctrls = [deployment.DeploymentController(), replicaset.ReplicaSetController(),
             statefulset.StatefulSetController(), job.JobController(), gc_controller.TTLController(),
             gc_controller.GarbageCollector()]
    mgr = Manager(store, kl, ctrls)
    runtime.manager = mgr
    return mgr
