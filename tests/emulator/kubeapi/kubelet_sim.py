# The simulated container runtime (the default kubelet): nothing runs, each container behaves as
# the image rules say. A rule matches an image by regular expression (re.search; the first match
# wins) and gives a behavior:
#   ready        runs and is ready (the default for restartPolicy Always)
#   never-ready  runs, never ready (a rollout that cannot finish: ProgressDeadlineExceeded)
#   exit         exits with exitCode (the default for Job pods and init containers: exit 0);
#                with restartPolicy Always/OnFailure and a failure it crash-loops
#   crash        exit with exitCode 1
#   missing      the image cannot be pulled: ErrImagePull, then ImagePullBackOff
#   run          keeps running even in a Job (a migration that is still going on)
# and optionally log (text the container prints, one run each start), message (what it writes to
# its terminationMessagePath) and after (seconds it runs, not ready, before the behavior applies).
# Rules come from --image-behavior REGEX=BEHAVIOR[:EXITCODE] flags and from the test hook
# POST /emulator/images {"rules": [{"image": REGEX, "behavior": ..., "exitCode": N, "log": ...,
# "message": ..., "after": S}]} which replaces them; running containers follow a changed rule
# (a "run" container told to "exit" finishes).
import re
import threading
import time

from kubelet import StartError, image_digest

BEHAVIORS = ("ready", "never-ready", "exit", "crash", "missing", "run")


def parse_flag(spec):
    """REGEX=BEHAVIOR[:EXITCODE] -> rule dict."""
    if "=" not in spec:
        raise ValueError("--image-behavior takes REGEX=BEHAVIOR[:EXITCODE], got %r" % spec)
    regex, beh = spec.rsplit("=", 1)
    rule = {"image": regex}
    if ":" in beh:
        beh, code = beh.split(":", 1)
        rule["exitCode"] = int(code)
    rule["behavior"] = beh
    return check(rule)


def check(rule):
    if not isinstance(rule, dict) or not isinstance(rule.get("image"), str):
        raise ValueError("a rule needs an image regular expression")
    re.compile(rule["image"])
    if rule.get("behavior", "ready") not in BEHAVIORS:
        raise ValueError("behavior %r is not one of %s" % (rule.get("behavior"), ", ".join(BEHAVIORS)))
    return rule


class SimContainer:
    _n = 0

    def __init__(self, image, run_to_completion, log):
        SimContainer._n += 1
        self.image = image
        self.run_to_completion = run_to_completion
        self.started = time.monotonic()
        self.log = log
        self.id = "%064x" % (SimContainer._n * 2654435761 + int(time.time() * 1000))


class SimRuntime:
    def __init__(self, rules=None):
        self.rules = [check(r) for r in rules or []]
        self.lock = threading.Lock()
        self.manager = None

    def set_rules(self, rules):
        rules = [check(r) for r in rules]
        with self.lock:
            self.rules = rules
        if self.manager:
            self.manager.kick()

    def rule_for(self, image):
        with self.lock:
            for r in self.rules:
                if re.search(r["image"], image):
                    return r
        return None

    def start(self, pod, cspec, ctx):
        image = cspec.get("image", "")
        rule = self.rule_for(image) or {}
        if rule.get("behavior") == "missing":
            raise StartError("ErrImagePull", 'rpc error: code = NotFound desc = failed to pull and unpack image "%s": '
                             'failed to resolve reference "%s": %s: not found' % (image, image, image))
        log = rule.get("log", "")
        if log and not log.endswith("\n"):
            log += "\n"
        return SimContainer(image, ctx["init"] or ctx["restart_policy"] != "Always", log)

    def poll(self, h, manager):
        rule = self.rule_for(h.image) or {}
        beh = rule.get("behavior")
        after = float(rule.get("after") or 0)
        ran = time.monotonic() - h.started
        if ran < after:
            manager.requeue_after(after - ran)
            return ("running", False)
        if beh is None:
            beh = "exit" if h.run_to_completion else "ready"
        if beh in ("ready", "run"):
            return ("running", True)
        if beh == "never-ready":
            return ("running", False)
        code = rule.get("exitCode", 1 if beh == "crash" else 0)
        return ("exited", int(code), rule.get("message", ""))

    def logs(self, h):
        return h.log

    def container_id(self, h):
        return "kubeemu://" + h.id

    def image_id(self, h):
        return "kubeemu://" + image_digest(h.image)

    def remove(self, h):
        pass

    def pod_gone(self, uid):
        pass

    def shutdown(self):
        pass
