# The emulator's Job controller, TTL-after-finished controller and garbage collector, driven by
# the real kubectl: `kubectl wait --for=condition=complete|failed`, `kubectl logs job/x`, the
# failed pod's terminated state and termination message, backoffLimit, activeDeadlineSeconds,
# ttlSecondsAfterFinished, and dependents (custom-resource owners too) deleted with their owner.
import json
import shutil
import unittest

from emulator import Emulator, LineReader

JOB = """apiVersion: batch/v1
kind: Job
metadata: {name: %(name)s}
spec:
  %(extra)s
  template:
    spec:
      restartPolicy: %(policy)s
      containers:
      - {name: migrate, image: "%(image)s"%(cextra)s}
"""

CRD = "crds/olympus.io_schemaupgrades.yaml"
SU = """apiVersion: olympus.io/v1alpha1
kind: SchemaUpgrade
metadata: {name: app}
spec:
  targetVersion: v1.0.0
  database: {dsnFrom: {env: APP_DSN}}
  migrations: {engine: sql, path: /migrations}
"""


def setUpModule():
    if shutil.which("kubectl") is None:
        raise RuntimeError("kubectl is not installed: these tests need the real kubectl (make deps)")


class JobTest(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator("--crash-backoff", "0.2").start()
        self.addCleanup(self.emu.cleanup)
        self.k = self.emu.kubectl

    def rules(self, *rules):
        self.emu.post("/emulator/images", {"rules": list(rules)})

    def job(self, name, image, extra="", policy="Never", cextra=""):
        self.k("apply", "-f", "-", input=JOB % {"name": name, "image": image, "extra": extra or "parallelism: 1",
                                                "policy": policy, "cextra": cextra})

    def get(self, *args):
        return json.loads(self.k("get", *args, "-o", "json").stdout)

    def test_complete_job_status_and_logs(self):
        self.rules({"image": "migrate", "behavior": "exit", "exitCode": 0, "log": "applied 3 migrations\ndone"})
        self.job("mig", "registry.local/migrate:v2")
        self.k("wait", "--for=condition=complete", "job/mig", "--timeout=60s")
        j = self.get("job", "mig")
        st = j["status"]
        self.assertEqual(st["succeeded"], 1)
        self.assertNotIn("active", st)
        self.assertNotIn("failed", st)
        self.assertEqual(st["ready"], 0)
        self.assertIn("startTime", st)
        self.assertIn("completionTime", st)
        self.assertEqual([(c["type"], c["status"], c["reason"], c["message"]) for c in st["conditions"]],
                         [("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
                          ("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods")])
        uid = j["metadata"]["uid"]
        self.assertEqual(j["spec"]["selector"], {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        [pod] = self.get("pods", "-l", "job-name=mig")["items"]
        self.assertEqual(pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], uid)
        self.assertTrue(pod["metadata"]["name"].startswith("mig-"))
        self.assertEqual(pod["status"]["phase"], "Succeeded")
        self.assertEqual(pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed")
        self.assertEqual(self.k("logs", "job/mig").stdout, "applied 3 migrations\ndone\n")
        self.assertEqual(self.k("logs", "job/mig", "--tail=1").stdout, "done\n")
        self.assertEqual(self.k("get", "job", "mig", "--no-headers").stdout.split()[1:3], ["Complete", "1/1"])

    def test_failed_job_backoff_limit_and_termination_message(self):
        self.rules({"image": "migrate", "behavior": "exit", "exitCode": 3, "message": "relation \"users\" already exists",
                    "log": "starting\nERROR: relation \"users\" already exists"})
        self.job("bad", "registry.local/migrate:v2", extra="backoffLimit: 1")
        self.k("wait", "--for=condition=failed", "job/bad", "--timeout=60s")
        st = self.get("job", "bad")["status"]
        self.assertEqual(st["failed"], 2, "backoffLimit 1: the first pod and one retry")
        self.assertNotIn("completionTime", st)
        failed = [c for c in st["conditions"] if c["type"] == "Failed"][0]
        self.assertEqual((failed["reason"], failed["message"]), ("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
        self.assertEqual([c["type"] for c in st["conditions"]], ["FailureTarget", "Failed"])
        pods = self.get("pods", "-l", "job-name=bad")["items"]
        self.assertEqual(len(pods), 2)
        for p in pods:
            self.assertEqual(p["status"]["phase"], "Failed")
            term = p["status"]["containerStatuses"][0]["state"]["terminated"]
            self.assertEqual((term["exitCode"], term["reason"], term["message"]), (3, "Error", 'relation "users" already exists'))
        self.assertIn('ERROR: relation "users" already exists', self.k("logs", "job/bad").stdout)
        events = [e["reason"] for e in self.get("events", "--field-selector", "involvedObject.name=bad")["items"]]
        self.assertIn("BackoffLimitExceeded", events)

    def test_backoff_limit_zero_runs_one_pod_and_fallback_to_logs(self):
        self.rules({"image": "migrate", "behavior": "exit", "exitCode": 1, "log": "one\ntwo\nfatal: schema mismatch"})
        self.job("once", "registry.local/migrate:v2", extra="backoffLimit: 0",
                 cextra=", terminationMessagePolicy: FallbackToLogsOnError")
        self.k("wait", "--for=condition=failed", "job/once", "--timeout=60s")
        [pod] = self.get("pods", "-l", "job-name=once")["items"]
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual(term["message"], "one\ntwo\nfatal: schema mismatch")
        self.assertEqual(self.get("job", "once")["status"]["failed"], 1)

    def test_on_failure_restarts_count_against_the_backoff_limit(self):
        self.rules({"image": "migrate", "behavior": "exit", "exitCode": 1})
        self.job("flaky", "registry.local/migrate:v2", extra="backoffLimit: 2", policy="OnFailure")
        self.k("wait", "--for=condition=failed", "job/flaky", "--timeout=60s")
        self.assertEqual(len(self.get("pods", "-l", "job-name=flaky")["items"]), 0, "the restarting pod is deleted")
        failed = [c for c in self.get("job", "flaky")["status"]["conditions"] if c["type"] == "Failed"][0]
        self.assertEqual(failed["reason"], "BackoffLimitExceeded")

    def test_active_deadline_exceeded(self):
        self.rules({"image": "migrate", "behavior": "run"})
        self.job("slow", "registry.local/migrate:v2", extra="activeDeadlineSeconds: 1")
        self.k("wait", "--for=condition=failed", "job/slow", "--timeout=60s")
        failed = [c for c in self.get("job", "slow")["status"]["conditions"] if c["type"] == "Failed"][0]
        self.assertEqual((failed["reason"], failed["message"]), ("DeadlineExceeded", "Job was active longer than specified deadline"))
        self.k("wait", "--for=delete", "pods", "-l", "job-name=slow", "--timeout=60s")
        self.assertNotIn("active", self.get("job", "slow")["status"])

    def test_running_job_reports_active_and_ready(self):
        self.rules({"image": "migrate", "behavior": "run"})
        self.job("running", "registry.local/migrate:v2")
        self.k("wait", "--for=jsonpath={.status.ready}=1", "job/running", "--timeout=60s")
        st = self.get("job", "running")["status"]
        self.assertEqual(st["active"], 1)
        self.rules({"image": "migrate", "behavior": "exit", "exitCode": 0})
        self.k("wait", "--for=condition=complete", "job/running", "--timeout=60s")

    def test_ttl_after_finished_deletes_job_and_pods(self):
        # A watch from before the Job exists: on a loaded machine the TTL may pass before a later
        # `kubectl wait --for=condition=complete` would start.
        w = self.emu.kubectl_bg("get", "jobs", "-w", "--output-watch-events", "-o",
                                "jsonpath={.type} {.object.metadata.name} {.object.status.conditions[*].type}{\"\\n\"}")
        self.addCleanup(self.emu.close_bg, w)
        lines = LineReader(w)
        self.job("marker", "registry.local/migrate:v2")
        lines.wait_for(lambda l: l.startswith("ADDED marker"))   # the watch is up
        self.job("short", "registry.local/migrate:v2", extra="ttlSecondsAfterFinished: 1")
        lines.wait_for(lambda l: l.startswith("MODIFIED short") and l.endswith(" Complete"))
        lines.wait_for(lambda l: l.startswith("DELETED short"))
        self.k("wait", "--for=delete", "pods", "-l", "job-name=short", "--timeout=60s")
        self.assertEqual(self.get("pods", "-l", "job-name=short")["items"], [])

    def test_restart_policy_is_required(self):
        r = self.k("apply", "-f", "-", check=False, input=(JOB % {"name": "nopolicy", "image": "x:1", "extra": "parallelism: 1",
                                                                   "policy": "Always", "cextra": ""}))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"', r.stderr)

    def test_garbage_collection_with_a_custom_resource_owner(self):
        self.k("apply", "-f", CRD)
        self.k("wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s")
        self.k("apply", "-f", "-", input=SU)
        su = self.get("schemaupgrades.olympus.io", "app")
        owner = {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade", "name": "app", "uid": su["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        self.rules({"image": "migrate", "behavior": "run"})
        job = json.loads(json.dumps({"apiVersion": "batch/v1", "kind": "Job",
                                     "metadata": {"name": "owned", "ownerReferences": [owner]},
                                     "spec": {"template": {"spec": {"restartPolicy": "Never",
                                                                    "containers": [{"name": "m", "image": "registry.local/migrate:v2"}]}}}}))
        self.k("create", "-f", "-", input=json.dumps(job))
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned-cm", "ownerReferences": [owner]}, "data": {"a": "b"}}
        self.k("create", "-f", "-", input=json.dumps(cm))
        self.k("wait", "--for=jsonpath={.status.active}=1", "job/owned", "--timeout=60s")
        self.k("delete", "schemaupgrades.olympus.io", "app")
        self.k("wait", "--for=delete", "job/owned", "configmap/owned-cm", "--timeout=60s")
        self.k("wait", "--for=delete", "pods", "-l", "job-name=owned", "--timeout=60s")
        # An object with a second owner that still exists stays.
        self.k("create", "configmap", "keeper")
        keeper = self.get("configmap", "keeper")
        refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "keeper", "uid": keeper["metadata"]["uid"]},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "00000000-0000-0000-0000-000000000000"}]
        self.k("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                       "metadata": {"name": "two-owners", "ownerReferences": refs}}))
        self.k("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                       "metadata": {"name": "orphan", "ownerReferences": refs[1:]}}))
        self.k("wait", "--for=delete", "configmap/orphan", "--timeout=60s")
        self.assertEqual(self.get("configmap", "two-owners")["metadata"]["name"], "two-owners")


if __name__ == "__main__":
    unittest.main()
