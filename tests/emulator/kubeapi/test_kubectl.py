# Fidelity of the API server emulator, driven by the real kubectl (v1.32): every test runs kubectl
# against a fresh emulator process and checks what a real kube-apiserver would answer. Waits are
# on conditions (kubectl wait, watch lines), never on sleeps.
import json
import os
import shutil
import unittest

from emulator import Emulator, LineReader

CRD = "crds/olympus.io_schemaupgrades.yaml"

APP = """apiVersion: olympus.io/v1alpha1
kind: SchemaUpgrade
metadata:
  name: app
spec:
  targetVersion: %s
  database:
    dsnFrom:
      env: APP_DSN
  migrations:
    engine: sql
    path: /migrations
"""


def setUpModule():
    if shutil.which("kubectl") is None:
        raise RuntimeError("kubectl is not installed: these tests need the real kubectl (make deps)")


class KubectlTest(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator("--bookmark-interval", "1").start()
        self.addCleanup(self.emu.cleanup)
        self.k = self.emu.kubectl

    def install(self):
        self.k("apply", "-f", CRD)

    def app(self, version="v1.0.0"):
        self.install()
        self.k("apply", "-f", "-", input=APP % version)

    def get(self, *args):
        return json.loads(self.k("get", *args, "-o", "json").stdout)

    # -- install commands ------------------------------------------------------------------
    def test_apply_f_crds_folder_exits_zero(self):
        # Regression: crds/kustomization.yaml made `kubectl apply -f crds/` exit 1 after creating the CRD.
        r = self.k("apply", "-f", "crds/", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("customresourcedefinition.apiextensions.k8s.io/schemaupgrades.olympus.io created", r.stdout)
        self.assertEqual(self.k("apply", "-k", "crds/").returncode, 0)

    def test_apply_k_manifests_installs_everything_twice(self):
        first = self.k("apply", "-k", "manifests/").stdout
        for obj in ("namespace/schema-upgrade-system created", "customresourcedefinition.apiextensions.k8s.io/schemaupgrades.olympus.io",
                    "clusterrole.rbac.authorization.k8s.io/schema-upgrade created", "deployment.apps/schema-upgrade created"):
            self.assertIn(obj, first)
        again = self.k("apply", "-k", "manifests/").stdout
        self.assertIn("deployment.apps/schema-upgrade unchanged", again)
        dep = self.get("-n", "schema-upgrade-system", "deployment", "schema-upgrade")
        self.assertEqual(dep["metadata"]["generation"], 1)

    def test_crd_starts_serving_and_api_resources_lists_it(self):
        before = self.k("api-resources").stdout
        self.assertNotIn("schemaupgrades", before)
        self.install()
        self.k("wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s")
        line = [l for l in self.k("api-resources").stdout.splitlines() if l.startswith("schemaupgrades")]
        self.assertEqual(len(line), 1)
        self.assertEqual(line[0].split(), ["schemaupgrades", "su", "olympus.io/v1alpha1", "true", "SchemaUpgrade"])
        self.assertIn("leases", self.k("api-resources", "--api-group=coordination.k8s.io").stdout)

    # -- reads -----------------------------------------------------------------------------
    def test_get_shows_printer_columns(self):
        self.app()
        self.k("patch", "su", "app", "--subresource=status", "--type=merge", "-p",
               json.dumps({"status": {"phase": "Succeeded", "currentVersion": "v1.0.0"}}))
        lines = self.k("get", "su").stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "SERVICE", "TARGET", "CURRENT", "PHASE", "READY", "AGE"])
        cells = lines[1].split()
        self.assertEqual(cells[:5], ["app", "v1.0.0", "v1.0.0", "Succeeded", cells[4]])
        self.assertEqual(cells[2:4], ["v1.0.0", "Succeeded"])

    def test_explain_reads_the_crd_schema(self):
        self.install()
        # kubectl resolves the short name "su" from its discovery cache, as against a real server:
        # refresh it once the CRD is established.
        self.k("wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s")
        self.k("api-resources", "--api-group=olympus.io")
        out = self.k("explain", "su.spec").stdout
        self.assertIn("KIND:       SchemaUpgrade", out)
        self.assertIn("The desired upgrade.", out)
        self.assertIn("targetVersion\t<string> -required-", out)
        nested = self.k("explain", "su.spec.migrations.engine").stdout
        self.assertIn("ENUM:\n    ory\n    drizzle\n    sql\n", nested)

    # -- status subresource ----------------------------------------------------------------
    def test_status_subresource_and_generation(self):
        self.app()
        obj = self.get("su", "app")
        self.assertEqual(obj["metadata"]["generation"], 1)
        self.assertNotIn("status", obj)
        self.k("patch", "su", "app", "--subresource=status", "--type=merge", "-p",
               '{"status":{"phase":"Migrating"},"spec":{"targetVersion":"ignored"}}')
        obj = self.get("su", "app")
        self.assertEqual(obj["status"]["phase"], "Migrating")
        self.assertEqual(obj["spec"]["targetVersion"], "v1.0.0", "a status write must never touch spec")
        self.assertEqual(obj["metadata"]["generation"], 1, "a status write must not bump generation")
        self.k("patch", "su", "app", "--type=merge", "-p", '{"spec":{"targetVersion":"v2.0.0"},"status":{"phase":"Failed"}}')
        obj = self.get("su", "app")
        self.assertEqual(obj["metadata"]["generation"], 2)
        self.assertEqual(obj["status"]["phase"], "Migrating", "writes to the main resource ignore status")
        self.k("label", "su", "app", "team=db")
        self.assertEqual(self.get("su", "app")["metadata"]["generation"], 2, "metadata changes do not bump generation")

    def test_wait_for_condition_ready(self):
        self.app()
        waiter = self.emu.kubectl_bg("wait", "--for=condition=Ready", "su/app", "--timeout=120s")
        self.addCleanup(self.emu.close_bg, waiter)
        cond = {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "at v1.0.0",
                "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}
        self.k("patch", "su", "app", "--subresource=status", "--type=merge", "-p", json.dumps({"status": {"conditions": [cond]}}))
        out, err = waiter.communicate(timeout=120)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertIn("schemaupgrade.olympus.io/app condition met", out)

    def test_get_watch_streams_changes(self):
        self.app()
        watcher = self.emu.kubectl_bg("get", "su", "app", "-w", "-o", "jsonpath={.metadata.resourceVersion} {.status.phase}{\"\\n\"}")
        self.addCleanup(self.emu.close_bg, watcher)
        lines = LineReader(watcher)
        lines.wait_for(lambda l: l.strip() != "")
        for phase in ("Planning", "Migrating", "Succeeded"):
            self.k("patch", "su", "app", "--subresource=status", "--type=merge", "-p", json.dumps({"status": {"phase": phase}}))
            lines.wait_for(lambda l, p=phase: l.endswith(" " + p))

    def test_get_watch_table_output(self):
        self.app()
        watcher = self.emu.kubectl_bg("get", "su", "-w")
        self.addCleanup(self.emu.close_bg, watcher)
        lines = LineReader(watcher)
        lines.wait_for(lambda l: l.startswith("NAME") and "PHASE" in l)
        lines.wait_for(lambda l: l.startswith("app "))
        self.k("patch", "su", "app", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Bumping"}}')
        lines.wait_for(lambda l: l.startswith("app ") and "Bumping" in l)

    # -- validation --------------------------------------------------------------------------
    def test_schema_violations_are_422_naming_the_field(self):
        self.install()
        bad = APP % "not a tag"
        r = self.k("apply", "-f", "-", input=bad, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('The SchemaUpgrade "app" is invalid', r.stderr)
        self.assertIn("spec.targetVersion: Invalid value: \"not a tag\": spec.targetVersion in body should match '^[A-Za-z0-9_][A-Za-z0-9_.-]*$'", r.stderr)
        missing = "apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata: {name: x}\nspec: {targetVersion: v1, migrations: {engine: flyway}}\n"
        r = self.k("apply", "-f", "-", input=missing, check=False)
        self.assertIn("spec.database: Required value", r.stderr)
        self.assertIn('spec.migrations.engine: Unsupported value: "flyway": supported values: "ory", "drizzle", "sql"', r.stderr)
        typed = (APP % "v1").replace("path: /migrations", "path: /migrations\n  policy: {dryRun: \"yes\", retries: {limit: -1}}")
        r = self.k("apply", "-f", "-", input=typed, check=False)
        self.assertIn('spec.policy.dryRun: Invalid value: "string": spec.policy.dryRun in body must be of type boolean: "string"', r.stderr)
        self.assertIn("spec.policy.retries.limit: Invalid value: -1: spec.policy.retries.limit in body should be greater than or equal to 0", r.stderr)
        self.assertIn("NotFound", self.k("get", "su", "app", "x", check=False).stderr)

    def test_cel_rules_are_enforced(self):
        self.install()
        run_down = (APP % "v1").replace("engine: sql", "engine: drizzle") + "  policy:\n    onFailure: runDown\n"
        r = self.k("apply", "-f", "-", input=run_down, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('spec.policy.onFailure: Invalid value: "object": policy.onFailure runDown needs migrations.engine sql', r.stderr)
        two_dsns = (APP % "v1").replace("env: APP_DSN", "env: APP_DSN\n      file: /run/dsn")
        r = self.k("apply", "-f", "-", input=two_dsns, check=False)
        self.assertIn('spec.database.dsnFrom: Invalid value: "object": exactly one of dsnFrom.env, dsnFrom.file or dsnFrom.secretKeyRef must be set', r.stderr)
        backoff = (APP % "v1") + "  policy:\n    retries:\n      backoff: {initial: 20m}\n"
        r = self.k("apply", "-f", "-", input=backoff, check=False)
        self.assertIn("backoff initial is longer than max", r.stderr)
        self.k("apply", "-f", "-", input=(APP % "v1") + "  policy:\n    onFailure: runDown\n")

    def test_unknown_fields_strict_by_default_pruned_when_ignored(self):
        self.install()
        extra = (APP % "v1").replace("targetVersion: v1", "targetVersion: v1\n  targetVersoin: v2")
        r = self.k("apply", "-f", "-", input=extra, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('unknown field "spec.targetVersoin"', r.stderr)
        r = self.k("apply", "--validate=false", "-f", "-", input=extra)
        self.assertNotIn("targetVersoin", json.dumps(self.get("su", "app")["spec"]))
        r = self.k("apply", "--validate=warn", "-f", "-", input=extra.replace("v2", "v3"))
        self.assertIn('unknown field "spec.targetVersoin"', r.stderr)

    def test_status_validation_on_status_writes(self):
        self.app()
        r = self.k("patch", "su", "app", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Dancing"}}', check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('status.phase: Unsupported value: "Dancing"', r.stderr)
        r = self.k("patch", "su", "app", "--subresource=status", "--type=merge", "-p",
                   '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"ok","message":"","lastTransitionTime":"yesterday"}]}}', check=False)
        self.assertIn("status.conditions[0].lastTransitionTime", r.stderr)

    # -- writes ----------------------------------------------------------------------------
    def test_dry_run_server_validates_without_storing(self):
        self.install()
        r = self.k("apply", "--dry-run=server", "-f", "-", input=APP % "v1")
        self.assertIn("(server dry run)", r.stdout)
        self.assertIn("NotFound", self.k("get", "su", "app", check=False).stderr)
        r = self.k("apply", "--dry-run=server", "-f", "-", input=APP % "bad tag", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("spec.targetVersion", r.stderr)

    def test_server_side_apply_owns_fields_and_reports_conflicts(self):
        self.install()
        r = self.k("apply", "--server-side", "-f", "-", input=APP % "v1")
        self.assertIn("serverside-applied", r.stdout)
        mf = self.get("su", "app", "--show-managed-fields")["metadata"]["managedFields"]
        self.assertEqual([(m["manager"], m["operation"]) for m in mf], [("kubectl", "Apply")])
        self.assertIn("f:targetVersion", mf[0]["fieldsV1"]["f:spec"])
        self.k("patch", "su", "app", "--type=merge", "-p", '{"spec":{"targetVersion":"v9"}}')
        r = self.k("apply", "--server-side", "-f", "-", input=APP % "v2", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('conflict with "kubectl-patch"', r.stderr)
        self.assertIn(".spec.targetVersion", r.stderr)
        self.k("apply", "--server-side", "--force-conflicts", "-f", "-", input=APP % "v2")
        self.assertEqual(self.get("su", "app")["spec"]["targetVersion"], "v2")
        # A field the manager stops applying is removed.
        slim = (APP % "v2").replace("    path: /migrations\n", "    path: /migrations\n  service: billing\n")
        self.k("apply", "--server-side", "-f", "-", input=slim)
        self.assertEqual(self.get("su", "app")["spec"]["service"], "billing")
        self.k("apply", "--server-side", "-f", "-", input=APP % "v2")
        self.assertNotIn("service", self.get("su", "app")["spec"])

    def test_client_side_apply_then_server_side_apply_upgrade(self):
        self.app("v1")
        r = self.k("apply", "--server-side", "-f", "-", input=APP % "v2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.get("su", "app")["spec"]["targetVersion"], "v2")

    def test_describe_shows_events_from_both_event_apis(self):
        self.app()
        uid = self.get("su", "app")["metadata"]["uid"]
        ev_new = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "app.1", "namespace": "default"},
                  "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "olympus.io/schema-upgrade",
                  "reportingInstance": "controller-0", "action": "Migrate", "reason": "MigrationApplied", "type": "Normal",
                  "note": "applied 20260101_init",
                  "regarding": {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade", "name": "app", "namespace": "default", "uid": uid}}
        ev_core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "app.2", "namespace": "default"},
                   "firstTimestamp": "2026-01-01T00:00:01Z", "lastTimestamp": "2026-01-01T00:00:01Z", "count": 3,
                   "reason": "BackoffRetry", "type": "Warning", "message": "retrying in 5s", "source": {"component": "schema-upgrade"},
                   "involvedObject": {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade", "name": "app", "namespace": "default", "uid": uid}}
        self.k("create", "-f", "-", input=json.dumps(ev_new))
        self.k("create", "-f", "-", input=json.dumps(ev_core))
        out = self.k("describe", "su", "app").stdout
        self.assertIn("Events:", out)
        self.assertIn("MigrationApplied", out)
        self.assertIn("applied 20260101_init", out)
        self.assertIn("BackoffRetry", out)
        self.assertIn("(x3 over", out)
        both = self.get("events.v1.events.k8s.io")["items"]
        self.assertEqual(sorted(e["reason"] for e in both), ["BackoffRetry", "MigrationApplied"])
        self.assertEqual([e["note"] for e in both if e["reason"] == "BackoffRetry"], ["retrying in 5s"])
        bad = dict(ev_new, metadata={"name": "app.3"})
        del bad["reportingController"]
        r = self.k("create", "-f", "-", input=json.dumps(bad), check=False)
        self.assertIn("reportingController: Required value", r.stderr)

    def test_delete_and_namespaces(self):
        self.k("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n")
        self.install()
        self.k("apply", "-n", "team-a", "-f", "-", input=APP % "v1")
        self.assertEqual(len(self.get("su", "-A")["items"]), 1)
        r = self.k("apply", "-n", "no-such-ns", "-f", "-", input=APP % "v1", check=False)
        self.assertIn('namespaces "no-such-ns" not found', r.stderr)
        self.k("delete", "-n", "team-a", "su", "app")
        self.assertIn("NotFound", self.k("get", "-n", "team-a", "su", "app", check=False).stderr)
        self.k("apply", "-n", "team-a", "-f", "-", input=APP % "v1")
        self.k("delete", "ns", "team-a")
        self.assertEqual(self.get("su", "-A")["items"], [])
        self.k("delete", "-f", CRD)
        self.assertNotIn("schemaupgrades", self.k("api-resources").stdout)

    def test_kubectl_create_sends_protobuf_for_core_kinds(self):
        self.k("create", "namespace", "team-b")
        self.k("create", "configmap", "cfg", "-n", "team-b", "--from-literal=mode=fast")
        self.k("create", "secret", "generic", "db", "-n", "team-b", "--from-literal=dsn=postgres://x")
        self.k("create", "serviceaccount", "bot", "-n", "team-b")
        ns = self.get("ns", "team-b")
        self.assertEqual(ns["status"]["phase"], "Active")
        self.assertNotIn("generateName", ns["metadata"])
        self.assertEqual(self.get("-n", "team-b", "configmap", "cfg")["data"], {"mode": "fast"})
        self.assertEqual(self.get("-n", "team-b", "secret", "db")["data"], {"dsn": "cG9zdGdyZXM6Ly94"})
        self.assertEqual(self.get("-n", "team-b", "sa", "bot")["metadata"]["namespace"], "team-b")

    def test_secret_string_data_is_merged_into_data(self):
        # As kube-apiserver decodes a Secret: stringData (write-only) into data, base64, winning
        # over a data key of the same name; the type defaults to Opaque. Clients read data only.
        self.k("apply", "-f", "-", input="apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
               "data: {dsn: b2xk, user: YXBw}\nstringData: {dsn: 'postgres://x'}\n")
        s = self.get("secret", "db")
        self.assertEqual(s["data"], {"dsn": "cG9zdGdyZXM6Ly94", "user": "YXBw"})
        self.assertNotIn("stringData", s)
        self.assertEqual(s["type"], "Opaque")

    def test_finalizers_hold_deletion(self):
        self.app()
        self.k("patch", "su", "app", "--type=merge", "-p", '{"metadata":{"finalizers":["olympus.io/cleanup"]}}')
        self.k("delete", "su", "app", "--wait=false")
        obj = self.get("su", "app")
        self.assertIn("deletionTimestamp", obj["metadata"])
        self.k("patch", "su", "app", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        self.assertIn("NotFound", self.k("get", "su", "app", check=False).stderr)

    def test_unauthenticated_requests_are_401(self):
        with open(self.emu.kubeconfig) as f:
            cfg = f.read().replace(self.emu.token(), "wrong-token")
        path = os.path.join(self.emu.dir, "bad-kubeconfig")
        with open(path, "w") as f:
            f.write(cfg)
        r = self.k("--kubeconfig", path, "get", "ns", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("You must be logged in to the server (the server has asked for the client to provide credentials)", r.stderr)
        r = self.k("--kubeconfig", os.path.join(self.emu.dir, "kubeconfig-cert"), "get", "ns", "default", "-o", "name")
        self.assertEqual(r.stdout.strip(), "namespace/default")


class LifecycleTest(unittest.TestCase):
    def test_start_up_files_and_sigterm_with_an_open_watch(self):
        emu = Emulator().start()
        self.addCleanup(emu.cleanup)
        for f in ("ca.crt", "token", "client.crt", "client.key", "kubeconfig", "kubeconfig-cert", "port"):
            self.assertTrue(os.path.exists(os.path.join(emu.dir, f)), f)
        with open(os.path.join(emu.dir, "port")) as f:
            self.assertEqual(int(f.read()), emu.port)
        with open(emu.kubeconfig) as f:
            self.assertIn("server: https://127.0.0.1:%d\n" % emu.port, f.read())
        watcher = emu.kubectl_bg("get", "ns", "-w", "-o", "name")
        self.addCleanup(emu.close_bg, watcher)
        LineReader(watcher).wait_for(lambda l: l == "namespace/default")
        self.assertEqual(emu.stop(), 0, "SIGTERM with an open watch must exit 0")
        watcher.wait(timeout=60)

    def test_sigterm_stops_and_persist_reloads_on_the_same_port(self):
        emu = Emulator("--persist").start()
        self.addCleanup(emu.cleanup)
        emu.kubectl("apply", "-f", CRD)
        emu.kubectl("apply", "-f", "-", input=APP % "v1")
        rv = json.loads(emu.kubectl("get", "su", "app", "-o", "json").stdout)["metadata"]["resourceVersion"]
        self.assertEqual(emu.stop(), 0)
        again = Emulator("--persist", directory=emu.dir, port=emu.port).start()
        self.addCleanup(again.stop)
        obj = json.loads(again.kubectl("get", "su", "app", "-o", "json").stdout)
        self.assertEqual(obj["metadata"]["resourceVersion"], rv)
        again.kubectl("patch", "su", "app", "--type=merge", "-p", '{"spec":{"targetVersion":"v2"}}')
        obj = json.loads(again.kubectl("get", "su", "app", "-o", "json").stdout)
        self.assertGreater(int(obj["metadata"]["resourceVersion"]), int(rv))
        self.assertEqual(again.stop(), 0)


if __name__ == "__main__":
    unittest.main()
