# The emulator's StatefulSet controller driven by the real kubectl: ordered pods <set>-0.., the
# controller-revision-hash label and ControllerRevisions, currentRevision/updateRevision,
# updatedReplicas, rollingUpdate.partition, observedGeneration, and `kubectl rollout status|undo`.
import json
import shutil
import unittest

from emulator import Emulator

STS = """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %(name)s}
spec:
  serviceName: %(name)s
  replicas: %(replicas)d
  %(extra)s
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec: {containers: [{name: db, image: "%(image)s"}]}
"""


def setUpModule():
    if shutil.which("kubectl") is None:
        raise RuntimeError("kubectl is not installed: these tests need the real kubectl (make deps)")


class StatefulSetTest(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator("--image-behavior", ":never-ready$=never-ready").start()
        self.addCleanup(self.emu.cleanup)
        self.k = self.emu.kubectl

    def sts(self, name="db", replicas=3, image="registry.local/db:v1", extra=""):
        self.k("apply", "-f", "-", input=STS % {"name": name, "replicas": replicas, "image": image, "extra": extra or "minReadySeconds: 0"})

    def get(self, *args):
        return json.loads(self.k("get", *args, "-o", "json").stdout)

    def status(self, name="db", timeout="60s", check=True):
        return self.k("rollout", "status", "statefulset/" + name, "--timeout=" + timeout, check=check)

    def pods(self, app="db"):
        return {p["metadata"]["name"]: p for p in self.get("pods", "-l", "app=" + app)["items"]}

    def test_ordered_pods_and_status(self):
        self.sts()
        out = self.status().stdout
        # The API server defaults rollingUpdate.partition to 0, so kubectl reports a partitioned roll out.
        self.assertIn("partitioned roll out complete: 3 new pods have been updated...", out)
        s = self.get("statefulset", "db")
        st = s["status"]
        self.assertEqual(st["observedGeneration"], 1)
        for f in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
            self.assertEqual(st[f], 3, f)
        self.assertEqual(st["currentRevision"], st["updateRevision"])
        self.assertEqual(st["collisionCount"], 0)
        pods = self.pods()
        self.assertEqual(sorted(pods), ["db-0", "db-1", "db-2"])
        for i in range(3):
            labels = pods["db-%d" % i]["metadata"]["labels"]
            self.assertEqual(labels["controller-revision-hash"], st["updateRevision"])
            self.assertEqual(labels["statefulset.kubernetes.io/pod-name"], "db-%d" % i)
            self.assertEqual(labels["apps.kubernetes.io/pod-index"], str(i))
            self.assertEqual(pods["db-%d" % i]["spec"]["hostname"], "db-%d" % i)
            self.assertEqual(pods["db-%d" % i]["spec"]["subdomain"], "db")
        created = sorted(pods.values(), key=lambda p: int(p["metadata"]["resourceVersion"]))
        self.assertEqual([p["metadata"]["name"] for p in created], ["db-0", "db-1", "db-2"], "created in ordinal order")
        [cr] = self.get("controllerrevisions")["items"]
        self.assertEqual((cr["metadata"]["name"], cr["revision"]), (st["updateRevision"], 1))
        self.assertEqual(self.k("get", "sts", "db", "--no-headers").stdout.split()[:2], ["db", "3/3"])

    def test_ordered_ready_waits_for_each_pod(self):
        self.sts(image="registry.local/db:never-ready")
        self.k("wait", "--for=jsonpath={.status.phase}=Running", "pod/db-0", "--timeout=60s")
        self.k("wait", "--for=jsonpath={.status.replicas}=1", "statefulset/db", "--timeout=60s")
        self.assertEqual(sorted(self.pods()), ["db-0"], "db-1 waits until db-0 is ready")
        r = self.status(timeout="1s", check=False)
        self.assertIn("Waiting for 3 pods to be ready...", r.stdout)

    def test_rolling_update_from_the_highest_ordinal(self):
        self.sts()
        self.status()
        old = self.get("statefulset", "db")["status"]["currentRevision"]
        self.k("set", "image", "statefulset/db", "db=registry.local/db:v2")
        self.assertIn("partitioned roll out complete: 3 new pods have been updated...", self.status().stdout)
        st = self.get("statefulset", "db")["status"]
        self.assertNotEqual(st["updateRevision"], old)
        self.assertEqual(st["currentRevision"], st["updateRevision"])
        self.assertEqual((st["updatedReplicas"], st["currentReplicas"], st["observedGeneration"]), (3, 3, 2))
        for p in self.pods().values():
            self.assertEqual(p["spec"]["containers"][0]["image"], "registry.local/db:v2")
            self.assertEqual(p["metadata"]["labels"]["controller-revision-hash"], st["updateRevision"])
        revs = sorted((c["revision"], c["metadata"]["name"]) for c in self.get("controllerrevisions")["items"])
        self.assertEqual(revs, [(1, old), (2, st["updateRevision"])])
        # kubectl rollout undo applies the previous ControllerRevision's template.
        self.k("rollout", "undo", "statefulset/db")
        self.status()
        st = self.get("statefulset", "db")["status"]
        self.assertEqual(st["updateRevision"], old)
        self.assertEqual({p["spec"]["containers"][0]["image"] for p in self.pods().values()}, {"registry.local/db:v1"})

    def test_partition_updates_only_the_ordinals_at_or_above_it(self):
        self.sts(extra="updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}")
        self.status()
        self.k("set", "image", "statefulset/db", "db=registry.local/db:v2")
        out = self.status().stdout
        self.assertIn("partitioned roll out complete: 1 new pods have been updated...", out)
        st = self.get("statefulset", "db")["status"]
        self.assertNotEqual(st["currentRevision"], st["updateRevision"])
        self.assertEqual((st["updatedReplicas"], st["currentReplicas"]), (1, 2))
        images = {n: p["spec"]["containers"][0]["image"] for n, p in self.pods().items()}
        self.assertEqual(images, {"db-0": "registry.local/db:v1", "db-1": "registry.local/db:v1", "db-2": "registry.local/db:v2"})
        # Lowering the partition lets the rollout finish.
        self.k("patch", "statefulset", "db", "--type=merge", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
        self.assertIn("partitioned roll out complete: 3 new pods have been updated...", self.status().stdout)
        self.k("wait", "--for=jsonpath={.status.currentReplicas}=3", "statefulset/db", "--timeout=60s")
        st = self.get("statefulset", "db")["status"]
        self.assertEqual(st["currentRevision"], st["updateRevision"])

    def test_scale_down_removes_the_highest_ordinals(self):
        self.sts()
        self.status()
        self.k("scale", "statefulset/db", "--replicas=1")
        self.k("wait", "--for=delete", "pod/db-2", "pod/db-1", "--timeout=60s")
        self.assertEqual(sorted(self.pods()), ["db-0"])
        self.k("wait", "--for=jsonpath={.status.replicas}=1", "statefulset/db", "--timeout=60s")

    def test_update_strategy_defaults_as_the_api_server(self):
        self.sts(name="plain")
        self.sts(name="typed", extra="updateStrategy: {type: RollingUpdate}")
        self.assertEqual(self.get("statefulset", "plain")["spec"]["updateStrategy"],
                         {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        self.assertEqual(self.get("statefulset", "typed")["spec"]["updateStrategy"], {"type": "RollingUpdate"})
        self.assertIn("statefulset rolling update complete 3 pods at revision typed-", self.status("typed").stdout)


if __name__ == "__main__":
    unittest.main()
