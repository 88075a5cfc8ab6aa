# The emulator's Deployment and ReplicaSet controllers and its simulated kubelet, driven by the
# real kubectl v1.32: `kubectl rollout status|pause|resume|undo|history`, `kubectl set image`,
# `kubectl get pods`. Waits are kubectl's own (rollout status, kubectl wait), never sleeps.
import json
import shutil
import unittest

from emulator import Emulator

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s}
spec:
  replicas: %(replicas)d
  %(extra)s
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec: {containers: [{name: app, image: "%(image)s"}]}
"""


def setUpModule():
    if shutil.which("kubectl") is None:
        raise RuntimeError("kubectl is not installed: these tests need the real kubectl (make deps)")


class DeploymentTest(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator("--image-behavior", ":never-ready$=never-ready").start()
        self.addCleanup(self.emu.cleanup)
        self.k = self.emu.kubectl

    def deploy(self, name="web", replicas=3, image="registry.local/web:v1", extra=""):
        self.k("apply", "-f", "-", input=DEPLOY % {"name": name, "replicas": replicas, "image": image, "extra": extra})

    def get(self, *args):
        return json.loads(self.k("get", *args, "-o", "json").stdout)

    def rollout_status(self, name="web", timeout="60s", check=True):
        return self.k("rollout", "status", "deployment/" + name, "--timeout=" + timeout, check=check)

    def wait_jsonpath(self, obj, path, value, timeout="60s"):
        self.k("wait", "--for=jsonpath={%s}=%s" % (path, value), obj, "--timeout=" + timeout)

    def replicasets(self, name="web"):
        return sorted(self.get("rs", "-l", "app=" + name)["items"], key=lambda rs: rs["metadata"]["name"])

    def test_rollout_creates_replicaset_and_ready_pods(self):
        self.deploy()
        self.assertIn('deployment "web" successfully rolled out', self.rollout_status().stdout)
        d = self.get("deployment", "web")
        st = d["status"]
        self.assertEqual(st["observedGeneration"], d["metadata"]["generation"])
        for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            self.assertEqual(st[f], 3, f)
        self.assertNotIn("unavailableReplicas", st, "zero counters are omitted, as omitempty does")
        conds = {c["type"]: c for c in st["conditions"]}
        self.assertEqual((conds["Available"]["status"], conds["Available"]["reason"]), ("True", "MinimumReplicasAvailable"))
        self.assertEqual((conds["Progressing"]["status"], conds["Progressing"]["reason"]), ("True", "NewReplicaSetAvailable"))
        [rs] = self.replicasets()
        h = rs["metadata"]["labels"]["pod-template-hash"]
        self.assertEqual(rs["metadata"]["name"], "web-" + h)
        self.assertEqual(rs["spec"]["selector"]["matchLabels"], {"app": "web", "pod-template-hash": h})
        self.assertEqual(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        self.assertEqual(rs["metadata"]["ownerReferences"][0]["uid"], d["metadata"]["uid"])
        self.assertTrue(rs["metadata"]["ownerReferences"][0]["controller"])
        self.assertEqual(conds["Progressing"]["message"], 'ReplicaSet "%s" has successfully progressed.' % rs["metadata"]["name"])
        pods = self.get("pods", "-l", "app=web")["items"]
        self.assertEqual(len(pods), 3)
        for p in pods:
            self.assertTrue(p["metadata"]["name"].startswith(rs["metadata"]["name"] + "-"))
            self.assertEqual(p["status"]["phase"], "Running")
            self.assertEqual(p["spec"]["nodeName"], "kubeemu-node")
            [cs] = p["status"]["containerStatuses"]
            self.assertTrue(cs["ready"])
            self.assertIn("running", cs["state"])
        lines = self.k("get", "pods").stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
        self.assertEqual([l.split()[1:4] for l in lines[1:]], [["1/1", "Running", "0"]] * 3)
        self.assertEqual(self.k("get", "deploy", "web", "--no-headers").stdout.split()[:4], ["web", "3/3", "3", "3"])

    def test_set_image_rolls_out_a_new_replicaset(self):
        self.deploy()
        self.rollout_status()
        old = self.replicasets()[0]["metadata"]["name"]
        self.k("set", "image", "deployment/web", "app=registry.local/web:v2")
        out = self.rollout_status().stdout
        self.assertIn('deployment "web" successfully rolled out', out)
        d = self.get("deployment", "web")
        self.assertEqual(d["status"]["observedGeneration"], 2)
        self.assertEqual(d["status"]["updatedReplicas"], 3)
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2")
        by_name = {rs["metadata"]["name"]: rs for rs in self.replicasets()}
        self.assertEqual(by_name[old]["spec"]["replicas"], 0)
        [new] = [rs for n, rs in by_name.items() if n != old]
        self.assertEqual(new["spec"]["replicas"], 3)
        self.assertEqual(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2")
        images = {p["spec"]["containers"][0]["image"] for p in self.get("pods", "-l", "app=web")["items"]}
        self.assertEqual(images, {"registry.local/web:v2"})
        history = self.k("rollout", "history", "deployment/web").stdout
        self.assertEqual([l.split()[0] for l in history.splitlines()[2:] if l.strip()], ["1", "2"])
        scaled = [e["message"] for e in self.get("events", "--field-selector", "involvedObject.name=web")["items"]
                  if e["reason"] == "ScalingReplicaSet"]
        self.assertIn("Scaled up replica set %s from 0 to 1" % new["metadata"]["name"], scaled)

    def test_undo_makes_the_old_replicaset_current_with_the_next_revision(self):
        self.deploy()
        self.rollout_status()
        first = self.replicasets()[0]["metadata"]["name"]
        self.k("set", "image", "deployment/web", "app=registry.local/web:v2")
        self.rollout_status()
        self.assertIn("rolled back", self.k("rollout", "undo", "deployment/web").stdout)
        self.rollout_status()
        by_name = {rs["metadata"]["name"]: rs for rs in self.replicasets()}
        self.assertEqual(len(by_name), 2, "the rollback reuses the first ReplicaSet")
        self.assertEqual(by_name[first]["spec"]["replicas"], 3)
        self.assertEqual(by_name[first]["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3")
        images = {p["spec"]["containers"][0]["image"] for p in self.get("pods", "-l", "app=web")["items"]}
        self.assertEqual(images, {"registry.local/web:v1"})

    def test_progress_deadline_exceeded_for_pods_that_never_get_ready(self):
        self.deploy(replicas=2, extra="progressDeadlineSeconds: 2")
        self.rollout_status()
        self.k("set", "image", "deployment/web", "app=registry.local/web:never-ready")
        r = self.rollout_status(check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('deployment "web" exceeded its progress deadline', r.stderr)
        d = self.get("deployment", "web")
        prog = [c for c in d["status"]["conditions"] if c["type"] == "Progressing"][0]
        new = [rs for rs in self.replicasets() if rs["spec"]["template"]["spec"]["containers"][0]["image"].endswith("never-ready")][0]
        self.assertEqual((prog["status"], prog["reason"]), ("False", "ProgressDeadlineExceeded"))
        self.assertEqual(prog["message"], 'ReplicaSet "%s" has timed out progressing.' % new["metadata"]["name"])
        # The default strategy (25%/25% of 2: surge 1, unavailable 0) keeps both old pods serving.
        self.assertEqual(d["status"]["availableReplicas"], 2)
        self.assertEqual(d["status"]["updatedReplicas"], 1)
        self.assertEqual(d["status"]["unavailableReplicas"], 1)
        pods = self.k("get", "pods", "--no-headers").stdout.splitlines()
        self.assertEqual(sorted(l.split()[1] for l in pods), ["0/1", "1/1", "1/1"])

    def test_max_surge_and_max_unavailable(self):
        # maxSurge 0, maxUnavailable 1: one old pod goes before a new one starts.
        self.deploy(extra="strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}")
        self.rollout_status()
        self.k("set", "image", "deployment/web", "app=registry.local/web:never-ready")
        self.wait_jsonpath("deployment/web", ".status.updatedReplicas", "1")
        self.wait_jsonpath("deployment/web", ".status.replicas", "3")
        d = self.get("deployment", "web")
        self.assertEqual(d["status"]["availableReplicas"], 2)
        counts = sorted(rs["spec"]["replicas"] for rs in self.replicasets())
        self.assertEqual(counts, [1, 2])
        # maxSurge 2, maxUnavailable 0: two new pods on top, no old pod goes.
        self.deploy(name="api", extra="strategy: {rollingUpdate: {maxSurge: 2, maxUnavailable: 0}}")
        self.rollout_status("api")
        self.k("set", "image", "deployment/api", "app=registry.local/web:never-ready")
        self.wait_jsonpath("deployment/api", ".status.updatedReplicas", "2")
        self.wait_jsonpath("deployment/api", ".status.replicas", "5")
        counts = sorted(rs["spec"]["replicas"] for rs in self.replicasets("api"))
        self.assertEqual(counts, [2, 3])
        self.assertEqual(self.get("deployment", "api")["status"]["availableReplicas"], 3)

    def test_pause_holds_the_rollout_and_resume_finishes_it(self):
        self.deploy()
        self.rollout_status()
        self.k("set", "image", "deployment/web", "app=registry.local/web:v2")
        self.rollout_status()
        self.k("rollout", "pause", "deployment/web")
        self.wait_jsonpath("deployment/web", ".status.conditions[?(@.type==\"Progressing\")].reason", "DeploymentPaused")
        self.k("set", "image", "deployment/web", "app=registry.local/web:v3")
        self.wait_jsonpath("deployment/web", ".status.observedGeneration", "4")
        self.assertEqual(len(self.replicasets()), 2, "a paused deployment starts no new ReplicaSet")
        d = self.get("deployment", "web")
        prog = [c for c in d["status"]["conditions"] if c["type"] == "Progressing"][0]
        self.assertEqual((prog["status"], prog["message"]), ("Unknown", "Deployment is paused"))
        self.assertNotIn("updatedReplicas", d["status"], "no pod runs the paused template (0 is omitted)")
        r = self.k("rollout", "undo", "deployment/web", check=False)
        self.assertIn("you cannot rollback a paused deployment", r.stderr)
        self.k("rollout", "resume", "deployment/web")
        self.assertIn("successfully rolled out", self.rollout_status().stdout)
        self.assertEqual(len(self.replicasets()), 3)
        images = {p["spec"]["containers"][0]["image"] for p in self.get("pods", "-l", "app=web")["items"]}
        self.assertEqual(images, {"registry.local/web:v3"})

    def test_min_ready_seconds_delays_availability(self):
        self.deploy(replicas=1, extra="minReadySeconds: 2")
        self.rollout_status()
        [pod] = self.get("pods", "-l", "app=web")["items"]
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"][0]["lastTransitionTime"]
        d = self.get("deployment", "web")
        avail = [c for c in d["status"]["conditions"] if c["type"] == "Available" and c["status"] == "True"][0]
        import datetime
        parse = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
        self.assertGreaterEqual((parse(avail["lastUpdateTime"]) - parse(ready)).total_seconds(), 2)
        self.assertEqual(self.get("rs", "-l", "app=web")["items"][0]["spec"]["minReadySeconds"], 2)

    def test_recreate_replaces_all_pods(self):
        self.deploy(extra="strategy: {type: Recreate}")
        self.rollout_status()
        self.k("set", "image", "deployment/web", "app=registry.local/web:v2")
        self.rollout_status()
        counts = sorted(rs["spec"]["replicas"] for rs in self.replicasets())
        self.assertEqual(counts, [0, 3])

    def test_deleting_the_deployment_collects_its_replicasets_and_pods(self):
        self.deploy()
        self.rollout_status()
        self.k("delete", "deployment", "web")
        self.k("wait", "--for=delete", "pods", "-l", "app=web", "--timeout=60s")
        self.assertEqual(self.get("rs")["items"], [])

    def test_kubectl_scale_uses_the_scale_subresource(self):
        self.deploy()
        self.rollout_status()
        self.assertIn("deployment.apps/web scaled", self.k("scale", "deployment/web", "--replicas=5").stdout)
        self.rollout_status()
        self.assertEqual(len(self.get("pods", "-l", "app=web")["items"]), 5)
        scale = json.loads(self.k("get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale").stdout)
        self.assertEqual((scale["kind"], scale["spec"]["replicas"], scale["status"]["replicas"], scale["status"]["selector"]),
                         ("Scale", 5, 5, "app=web"))
        self.k("scale", "deployment/web", "--replicas=1")
        self.k("wait", "--for=jsonpath={.status.replicas}=1", "deployment/web", "--timeout=60s")
        self.assertEqual(len(self.get("pods", "-l", "app=web")["items"]), 1)

    def test_defaults_are_filled_in(self):
        self.k("apply", "-f", "-", input="""apiVersion: apps/v1
kind: Deployment
metadata: {name: bare}
spec:
  selector: {matchLabels: {app: bare}}
  template:
    metadata: {labels: {app: bare}}
    spec: {containers: [{name: app, image: "registry.local/bare:v1"}]}
""")
        spec = self.get("deployment", "bare")["spec"]
        self.assertEqual(spec["replicas"], 1)
        self.assertEqual(spec["progressDeadlineSeconds"], 600)
        self.assertEqual(spec["revisionHistoryLimit"], 10)
        self.assertEqual(spec["strategy"], {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        c = spec["template"]["spec"]["containers"][0]
        self.assertEqual((c["terminationMessagePath"], c["terminationMessagePolicy"], c["imagePullPolicy"]),
                         ("/dev/termination-log", "File", "IfNotPresent"))
        r = self.k("apply", "-f", "-", check=False, input=(DEPLOY % {"name": "bad", "replicas": 1, "image": "x:1", "extra": ""})
                   .replace("template:\n    metadata: {labels: {app: bad}}", "template:\n    metadata: {labels: {app: other}}"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("`selector` does not match template `labels`", r.stderr)


class NoControllersTest(unittest.TestCase):
    def test_no_controllers_is_a_bare_api_server(self):
        # For tests that write workload status themselves (KubeEmulator({"--no-controllers"})):
        # no controller races them.
        emu = Emulator("--no-controllers").start()
        self.addCleanup(emu.cleanup)
        emu.kubectl("apply", "-f", "-", input=DEPLOY % {"name": "web", "replicas": 1, "image": "x:1", "extra": ""})
        emu.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n")
        emu.kubectl("patch", "deployment", "web", "--subresource=status", "--type=merge", "-p", '{"status":{"replicas":7}}')
        self.assertEqual(json.loads(emu.kubectl("get", "deployment", "web", "-o", "json").stdout)["status"], {"replicas": 7})
        self.assertEqual(json.loads(emu.kubectl("get", "rs", "-o", "json").stdout)["items"], [])
        self.assertNotIn("status", json.loads(emu.kubectl("get", "pod", "p", "-o", "json").stdout))
        r = emu.kubectl("logs", "p", check=False)
        self.assertIn("this emulator runs no kubelet (started with --no-controllers)", r.stderr)
        bad = Emulator("--no-controllers", "--controllers")
        self.addCleanup(bad.cleanup)
        with self.assertRaises(RuntimeError):
            bad.start()


if __name__ == "__main__":
    unittest.main()
