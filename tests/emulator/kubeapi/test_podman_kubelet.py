# The podman kubelet (--kubelet podman) with the fixture images the Podman tests build
# (tests/fixtures/images/build.sh) and a throwaway PostgreSQL: a Kratos Deployment whose pods
# really refuse an unmigrated schema (CrashLoopBackOff, "schema mismatch" in kubectl logs) until
# a Job of the same image with `migrate sql up -e --yes` and the DSN from a Secret
# (valueFrom.secretKeyRef) completes; then the rollout finishes. Also CreateContainerConfigError
# for a missing Secret or key, ImagePullBackOff for an image that is not local (nothing is
# pulled), init containers sharing an emptyDir, the exit code and termination message of a failed
# Job pod, and every container removed when the emulator stops. Real kubectl, real podman.
import json
import os
import shutil
import subprocess
import time
import unittest

from emulator import SOURCE_DIR, Emulator, LineReader
from pgserver import PgServer

KRATOS_OLD = "localhost/oryd/kratos:v1.1.0"
KRATOS = "localhost/oryd/kratos:v1.2.0"


def setUpModule():
    for tool in ("kubectl", "podman"):
        if shutil.which(tool) is None:
            raise RuntimeError("%s is not installed: these tests need the real %s (make deps)" % (tool, tool))
    subprocess.run([os.path.join(SOURCE_DIR, "tests/fixtures/images/build.sh"), KRATOS_OLD, KRATOS], check=True,
                   stdout=subprocess.DEVNULL)


def containers_of(emu_pods):
    return [cs["containerID"].split("://", 1)[1] for p in emu_pods for cs in
            (p["status"].get("initContainerStatuses") or []) + (p["status"].get("containerStatuses") or []) if cs.get("containerID")]


class PodmanKubeletTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgServer()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        self.db = "kratos_%s" % self.id().rsplit(".", 1)[-1][5:30]
        self.pg.psql('CREATE DATABASE "%s"' % self.db)
        self.emu = Emulator("--kubelet", "podman", "--crash-backoff", "0.3").start()
        self.addCleanup(self.emu.cleanup)
        self.k = self.emu.kubectl
        self.k("create", "secret", "generic", "kratos-db", "--from-literal=dsn=" + self.pg.dsn(self.db))

    def get(self, *args):
        return json.loads(self.k("get", *args, "-o", "json").stdout)

    def apply(self, obj):
        self.k("apply", "-f", "-", input=json.dumps(obj))

    def pod_waits(self, selector, reason):
        w = self.emu.kubectl_bg("get", "pods", "-l", selector, "-w", "-o",
                                "jsonpath={.metadata.name} {.status.containerStatuses[0].state.waiting.reason}{\"\\n\"}")
        self.addCleanup(self.emu.close_bg, w)
        return LineReader(w).wait_for(lambda l: l.endswith(" " + reason), timeout=120)

    def env_dsn(self, secret="kratos-db", key="dsn"):
        return [{"name": "DSN", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}]

    def deployment(self, image):
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "kratos"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "kratos"}},
                         "template": {"metadata": {"labels": {"app": "kratos"}},
                                      "spec": {"containers": [{"name": "kratos", "image": image, "env": self.env_dsn()}]}}}}

    def job(self, name, image, command, env=None, policy="Never"):
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                "spec": {"backoffLimit": 0, "template": {"spec": {
                    "restartPolicy": policy,
                    "containers": [{"name": "migrate", "image": image, "args": command, "env": env or self.env_dsn()}]}}}}

    def test_kratos_refuses_an_unmigrated_schema_until_the_migration_job_ran(self):
        self.apply(self.deployment(KRATOS))
        self.pod_waits("app=kratos", "CrashLoopBackOff")
        [pod] = self.get("pods", "-l", "app=kratos")["items"]
        name = pod["metadata"]["name"]
        logs = self.k("logs", name, "--previous").stdout
        self.assertIn("schema mismatch", logs)
        self.assertNotIn(self.pg.password, logs)
        term = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
        self.assertEqual(term["exitCode"], 1)
        # The migration, as the operator runs it: a Job of the same image with the DSN from the Secret.
        self.apply(self.job("kratos-migrate", KRATOS, ["migrate", "sql", "up", "-e", "--yes"]))
        self.k("wait", "--for=condition=complete", "job/kratos-migrate", "--timeout=120s")
        self.assertIn("Successfully applied migrations!", self.k("logs", "job/kratos-migrate").stdout)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM schema_migration", self.db), "7")
        # The crash-looping pod's next restart finds the schema it needs.
        out = self.k("rollout", "status", "deployment/kratos", "--timeout=120s").stdout
        self.assertIn('deployment "kratos" successfully rolled out', out)
        self.assertIn("serving", self.k("logs", "deployment/kratos").stdout)
        [pod] = self.get("pods", "-l", "app=kratos")["items"]
        ids = containers_of([pod])
        self.assertEqual(subprocess.run(["podman", "container", "exists", ids[0]]).returncode, 0)
        self.emu.stop()
        for cid in ids:
            self.assertNotEqual(subprocess.run(["podman", "container", "exists", cid]).returncode, 0,
                                "the emulator removes its containers when it stops")

    def test_missing_secret_or_key_is_create_container_config_error(self):
        self.apply(self.job("nosecret", KRATOS, ["migrate", "sql", "status", "-e"], env=self.env_dsn(secret="absent")))
        self.apply(self.job("nokey", KRATOS, ["migrate", "sql", "status", "-e"], env=self.env_dsn(key="password")))
        self.pod_waits("job-name=nosecret", "CreateContainerConfigError")
        self.pod_waits("job-name=nokey", "CreateContainerConfigError")
        msg = lambda job: self.get("pods", "-l", "job-name=" + job)["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        self.assertEqual(msg("nosecret"), 'secret "absent" not found')
        self.assertEqual(msg("nokey"), "couldn't find key password in Secret default/kratos-db")
        # Creating the Secret lets the waiting container start (the kubelet retries).
        self.k("create", "secret", "generic", "absent", "--from-literal=dsn=" + self.pg.dsn(self.db))
        self.k("wait", "--for=condition=complete", "job/nosecret", "--timeout=120s")
        self.assertIn("Pending", self.k("logs", "job/nosecret").stdout)

    def test_image_that_is_not_local_is_image_pull_back_off(self):
        self.apply(self.deployment("localhost/oryd/kratos:v9.9.9-not-built"))
        self.pod_waits("app=kratos", "ImagePullBackOff")
        [pod] = self.get("pods", "-l", "app=kratos")["items"]
        self.assertEqual(pod["status"]["phase"], "Pending")

    def test_init_containers_empty_dir_exit_code_and_termination_message(self):
        pod = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "steps"},
               "spec": {"backoffLimit": 0, "template": {"spec": {
                   "restartPolicy": "Never",
                   "volumes": [{"name": "work", "emptyDir": {}}],
                   "initContainers": [
                       {"name": "first", "image": KRATOS, "command": ["/bin/sh", "-c", "echo one > /work/steps"],
                        "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                       {"name": "second", "image": KRATOS, "command": ["/bin/sh", "-c", "echo two >> /work/steps"],
                        "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
                   "containers": [{"name": "main", "image": KRATOS, "command": ["/bin/sh", "-c"],
                                   "args": ["cat /work/steps; echo $(GREETING) from $(POD); echo 'no schema' > /dev/termination-log; exit 4"],
                                   "env": [{"name": "GREETING", "value": "hello"},
                                           {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                                   "volumeMounts": [{"name": "work", "mountPath": "/work"}]}]}}}}
        self.apply(pod)
        self.k("wait", "--for=condition=failed", "job/steps", "--timeout=120s")
        [p] = self.get("pods", "-l", "job-name=steps")["items"]
        self.assertEqual([c["state"]["terminated"]["exitCode"] for c in p["status"]["initContainerStatuses"]], [0, 0])
        term = p["status"]["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual((term["exitCode"], term["reason"], term["message"]), (4, "Error", "no schema\n"))
        self.assertEqual(self.k("logs", "job/steps").stdout, "one\ntwo\nhello from %s\n" % p["metadata"]["name"])
        self.assertEqual(self.k("logs", p["metadata"]["name"], "-c", "first").stdout, "")

    def test_probes_on_named_ports_liveness_restarts_fs_group_and_read_only_root(self):
        # Readiness through a port's name (the PostgreSQL port, reachable on the host network);
        # a liveness probe that always fails gets the container killed and restarted; the pod's
        # fsGroup owns its emptyDir so a non-root user writes there; the root filesystem is
        # read-only when the container says so.
        pod_spec = {"securityContext": {"runAsUser": 4242, "fsGroup": 4343},
                    "volumes": [{"name": "state", "emptyDir": {}}],
                    "containers": [{"name": "app", "image": KRATOS, "command": ["/bin/sh", "-c"],
                                    "args": ["touch /state/ok && echo state-ok; touch /rootfs-write 2>/dev/null || echo rootfs-ro; "
                                             "exec sleep 100000"],
                                    "ports": [{"name": "pg", "containerPort": self.pg.port}],
                                    "securityContext": {"readOnlyRootFilesystem": True},
                                    "volumeMounts": [{"name": "state", "mountPath": "/state"}],
                                    "readinessProbe": {"tcpSocket": {"port": "pg"}, "periodSeconds": 1}}]}
        self.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ready"}, "spec": pod_spec})
        self.k("wait", "--for=condition=Ready", "pod/ready", "--timeout=120s")
        self.assertEqual(self.k("logs", "ready").stdout, "state-ok\nrootfs-ro\n")
        live = json.loads(json.dumps(pod_spec))
        live["containers"][0]["livenessProbe"] = {"exec": {"command": ["/bin/sh", "-c", "exit 1"]},
                                                  "periodSeconds": 1, "failureThreshold": 2}
        self.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unlive"}, "spec": live})
        self.k("wait", "--for=jsonpath={.status.containerStatuses[0].restartCount}=1", "pod/unlive", "--timeout=120s")
        [cs] = self.get("pod", "unlive")["status"]["containerStatuses"]
        self.assertEqual(cs["lastState"]["terminated"]["exitCode"], 137)
        self.assertEqual(self.get("pod", "ready")["status"]["containerStatuses"][0]["restartCount"], 0)

    def test_service_account_files_and_a_token_checked_by_rbac(self):
        self.k("create", "serviceaccount", "migrator")
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader"},
                    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "migrator"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                    "subjects": [{"kind": "ServiceAccount", "name": "migrator", "namespace": "default"}]})
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        script = ("cat %s/namespace; echo; echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; cat %s/token; echo; "
                  "grep -c 'BEGIN CERTIFICATE' %s/ca.crt") % (sa, sa, sa)
        for name, extra in (("whoami", {}), ("nomount", {"automountServiceAccountToken": False})):
            job = self.job(name, KRATOS, [])
            c = job["spec"]["template"]["spec"]["containers"][0]
            c["command"], c["args"] = ["/bin/sh", "-c", script if name == "whoami" else
                                       "test -e %s/token && echo mounted || echo none; echo $KUBERNETES_SERVICE_HOST" % sa], []
            job["spec"]["template"]["spec"].update(dict(extra, serviceAccountName="migrator"))
            self.apply(job)
            self.k("wait", "--for=condition=complete", "job/" + name, "--timeout=120s")
        ns, hostport, token, certs = self.k("logs", "job/whoami").stdout.splitlines()
        self.assertEqual((ns, hostport, certs), ("default", "127.0.0.1:%d" % self.emu.port, "1"))
        self.assertEqual(self.k("logs", "job/nomount").stdout, "none\n127.0.0.1\n")
        # The token is the service account's identity, authorized by RBAC.
        pods = self.k("--token", token, "get", "pods", "-o", "name").stdout
        self.assertIn("pod/whoami-", pods)
        denied = self.k("--token", token, "delete", "job", "whoami", check=False)
        self.assertNotEqual(denied.returncode, 0)
        self.assertIn('User "system:serviceaccount:default:migrator" cannot delete resource "jobs"', denied.stderr)
        # Deleting the pod revokes its token (the kubelet forgets the pod in its next pass).
        self.k("delete", "job", "whoami")
        self.k("wait", "--for=delete", "pods", "-l", "job-name=whoami", "--timeout=60s")
        deadline = time.monotonic() + 60
        while self.k("--token", token, "get", "pods", check=False).returncode == 0:
            self.assertLess(time.monotonic(), deadline, "the token still works after its pod is gone")


if __name__ == "__main__":
    unittest.main()
