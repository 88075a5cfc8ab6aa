# The simulated kubelet's failing containers and the pods/log subresource, driven by the real
# kubectl: images made to crash (CrashLoopBackOff, restartCount, lastState), to be missing
# (ErrImagePull / ImagePullBackOff), never ready, or to exit with a termination message; rules
# from --image-behavior and from the POST /emulator/images hook; `kubectl logs` with --tail,
# -c and --previous. Waits are kubectl wait on the pod's fields, never sleeps.
import json
import shutil
import unittest

from emulator import Emulator, LineReader

POD = """apiVersion: v1
kind: Pod
metadata: {name: %(name)s, labels: {app: %(name)s}}
spec:
  restartPolicy: %(policy)s
  containers:
  - {name: app, image: "%(image)s"%(extra)s}
"""


def setUpModule():
    if shutil.which("kubectl") is None:
        raise RuntimeError("kubectl is not installed: these tests need the real kubectl (make deps)")


class PodTest(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator("--image-behavior", ":crash$=crash", "--image-behavior", ":missing$=missing",
                            "--image-behavior", ":never-ready$=never-ready", "--crash-backoff", "0.2").start()
        self.addCleanup(self.emu.cleanup)
        self.k = self.emu.kubectl

    def pod(self, name, image, policy="Always", extra=""):
        self.k("apply", "-f", "-", input=POD % {"name": name, "image": image, "policy": policy, "extra": extra})

    def get(self, *args):
        return json.loads(self.k("get", *args, "-o", "json").stdout)

    def wait(self, name, path, value):
        self.k("wait", "--for=jsonpath={%s}=%s" % (path, value), "pod/" + name, "--timeout=60s")

    def wait_until(self, name, path, predicate):
        """Watches the pod (kubectl get -w) until predicate(value at path) holds."""
        w = self.emu.kubectl_bg("get", "pod", name, "-w", "-o", "jsonpath={%s}{\"\\n\"}" % path)
        self.addCleanup(self.emu.close_bg, w)
        return LineReader(w).wait_for(lambda l: l.strip() != "" and predicate(l.strip()))

    def status_column(self, name):
        return self.k("get", "pod", name, "--no-headers").stdout.split()[2]

    def test_crash_loop_back_off(self):
        self.emu.post("/emulator/images", {"rules": [{"image": ":crash$", "behavior": "crash", "log": "panic: no schema"}]})
        self.pod("boom", "registry.local/app:crash")
        self.wait("boom", ".status.containerStatuses[0].state.waiting.reason", "CrashLoopBackOff")
        self.wait_until("boom", ".status.containerStatuses[0].restartCount", lambda v: int(v) >= 2)
        p = self.get("pod", "boom")
        self.assertEqual(p["status"]["phase"], "Running")
        [cs] = p["status"]["containerStatuses"]
        self.assertFalse(cs["ready"])
        self.assertTrue(cs["state"]["waiting"]["message"].startswith("back-off "))
        self.assertIn("restarting failed container=app pod=boom_default(", cs["state"]["waiting"]["message"])
        term = cs["lastState"]["terminated"]
        self.assertEqual((term["exitCode"], term["reason"]), (1, "Error"))
        self.assertIn("CrashLoopBackOff", self.k("get", "pods", "boom", "--no-headers").stdout)
        self.assertEqual(self.k("logs", "boom").stdout, "panic: no schema\n")
        self.assertEqual(self.k("logs", "boom", "--previous").stdout, "panic: no schema\n")
        ready = [c for c in p["status"]["conditions"] if c["type"] == "Ready"][0]
        self.assertEqual((ready["status"], ready["reason"], ready["message"]),
                         ("False", "ContainersNotReady", "containers with unready status: [app]"))

    def test_missing_image_err_image_pull_then_back_off_then_pulled_when_it_appears(self):
        self.pod("nope", "registry.local/app:missing")
        self.wait("nope", ".status.containerStatuses[0].state.waiting.reason", "ImagePullBackOff")
        p = self.get("pod", "nope")
        self.assertEqual(p["status"]["phase"], "Pending")
        self.assertEqual(p["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
                         'Back-off pulling image "registry.local/app:missing"')
        self.assertEqual(self.status_column("nope"), "ImagePullBackOff")
        r = self.k("logs", "nope", check=False)
        self.assertIn('container "app" in pod "nope" is waiting to start: ImagePullBackOff', r.stderr)
        # The image "appears": the next pull retry starts the container.
        self.emu.post("/emulator/images", {"rules": []})
        self.k("wait", "--for=condition=Ready", "pod/nope", "--timeout=60s")

    def test_err_image_pull_is_the_first_state(self):
        # With a long back-off the first failed pull stays visible as ErrImagePull.
        emu = Emulator("--image-behavior", ":missing$=missing", "--crash-backoff", "60").start()
        self.addCleanup(emu.cleanup)
        emu.kubectl("apply", "-f", "-", input=POD % {"name": "first", "image": "registry.local/app:missing", "policy": "Always", "extra": ""})
        emu.kubectl("wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ErrImagePull", "pod/first", "--timeout=60s")
        p = json.loads(emu.kubectl("get", "pod", "first", "-o", "json").stdout)
        self.assertEqual(p["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
                         'rpc error: code = NotFound desc = failed to pull and unpack image "registry.local/app:missing": '
                         'failed to resolve reference "registry.local/app:missing": registry.local/app:missing: not found')
        self.assertEqual(emu.kubectl("get", "pod", "first", "--no-headers").stdout.split()[2], "ErrImagePull")

    def test_never_ready(self):
        self.pod("slow", "registry.local/app:never-ready")
        self.wait("slow", ".status.phase", "Running")
        p = self.get("pod", "slow")
        [cs] = p["status"]["containerStatuses"]
        self.assertFalse(cs["ready"])
        self.assertIn("running", cs["state"])
        self.assertEqual(self.k("get", "pod", "slow", "--no-headers").stdout.split()[1:3], ["0/1", "Running"])

    def test_exit_with_termination_message_and_fallback_to_logs(self):
        self.emu.post("/emulator/images", {"rules": [
            {"image": ":msg$", "behavior": "exit", "exitCode": 3, "message": "schema mismatch: want 42", "log": "line 1\nline 2"},
            {"image": ":logs$", "behavior": "exit", "exitCode": 4, "log": "\n".join("l%d" % i for i in range(100))}]})
        self.pod("msg", "registry.local/app:msg", policy="Never")
        self.pod("fallback", "registry.local/app:logs", policy="Never", extra=", terminationMessagePolicy: FallbackToLogsOnError")
        self.wait("msg", ".status.phase", "Failed")
        self.wait("fallback", ".status.phase", "Failed")
        term = self.get("pod", "msg")["status"]["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual((term["exitCode"], term["reason"], term["message"]), (3, "Error", "schema mismatch: want 42"))
        term = self.get("pod", "fallback")["status"]["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual(term["message"], "\n".join("l%d" % i for i in range(20, 100)), "the last 80 log lines")
        self.assertEqual(self.status_column("msg"), "Error")
        self.assertEqual(self.k("logs", "msg", "--tail=1").stdout, "line 2\n")
        self.assertEqual(self.k("logs", "msg").stdout, "line 1\nline 2\n")
        ready = [c for c in self.get("pod", "msg")["status"]["conditions"] if c["type"] == "Ready"][0]
        self.assertEqual(ready["reason"], "PodCompleted")

    def test_succeeded_pod_and_init_containers_in_order(self):
        self.emu.post("/emulator/images", {"rules": [{"image": "init-a", "behavior": "exit", "log": "a ran"},
                                                      {"image": "init-b", "behavior": "exit", "log": "b ran"}]})
        self.k("apply", "-f", "-", input="""apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  restartPolicy: Never
  initContainers:
  - {name: a, image: registry.local/init-a:v1}
  - {name: b, image: registry.local/init-b:v1}
  containers:
  - {name: main, image: registry.local/main:v1}
  - {name: side, image: registry.local/side:v1}
""")
        self.wait("two", ".status.phase", "Succeeded")
        p = self.get("pod", "two")
        self.assertEqual([c["state"]["terminated"]["reason"] for c in p["status"]["initContainerStatuses"]], ["Completed", "Completed"])
        self.assertEqual(self.k("logs", "two", "-c", "a").stdout, "a ran\n")
        r = self.k("logs", "two")
        self.assertIn('Defaulted container "main" out of: main, side, a (init), b (init)', r.stderr)
        self.assertEqual(self.status_column("two"), "Completed")

    def test_failing_init_container_blocks_the_pod(self):
        self.emu.post("/emulator/images", {"rules": [{"image": "init-bad", "behavior": "exit", "exitCode": 2}]})
        self.k("apply", "-f", "-", input="""apiVersion: v1
kind: Pod
metadata: {name: blocked}
spec:
  initContainers:
  - {name: setup, image: registry.local/init-bad:v1}
  containers:
  - {name: main, image: registry.local/main:v1}
""")
        self.wait("blocked", ".status.initContainerStatuses[0].state.waiting.reason", "CrashLoopBackOff")
        p = self.get("pod", "blocked")
        self.assertEqual(p["status"]["phase"], "Pending")
        self.assertEqual(p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing")
        self.assertEqual(self.status_column("blocked"), "Init:CrashLoopBackOff")

    def test_image_rules_through_kubectl_create_raw(self):
        # How C++ tests set rules (KubeEmulator::Kubectl): kubectl's raw POST.
        self.k("create", "--raw", "/emulator/images", "-f", "-",
               input=json.dumps({"rules": [{"image": "raw", "behavior": "never-ready"}]}))
        self.pod("raw", "registry.local/raw:v1")
        self.wait("raw", ".status.phase", "Running")
        self.assertFalse(self.get("pod", "raw")["status"]["containerStatuses"][0]["ready"])
        bad = self.k("create", "--raw", "/emulator/images", "-f", "-", check=False,
                     input=json.dumps({"rules": [{"image": "x", "behavior": "explode"}]}))
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("bad image rule: behavior 'explode' is not one of", bad.stderr)

    def test_a_running_container_follows_a_changed_rule(self):
        self.emu.post("/emulator/images", {"rules": [{"image": "migrate", "behavior": "run"}]})
        self.pod("mig", "registry.local/migrate:v2", policy="Never")
        self.k("wait", "--for=condition=Ready", "pod/mig", "--timeout=60s")
        self.emu.post("/emulator/images", {"rules": [{"image": "migrate", "behavior": "exit", "exitCode": 0}]})
        self.wait("mig", ".status.phase", "Succeeded")


if __name__ == "__main__":
    unittest.main()
