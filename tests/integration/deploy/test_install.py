# The install commands the README gives, run as written with the real kubectl and helm against the
# API server emulator (real applies, not dry runs): `kubectl apply -f crds/ -f manifests/` and
# `kubectl apply -k manifests/` each create the same objects, exit 0, and are idempotent; the
# README's kubectl and helm install blocks run line by line (all but `rollout status`, which needs
# a cluster's controllers); docs/kubernetes.md's Argo CD command and Lua listing match the chart's.
# Regression: manifests/kustomization.yaml was sent to the server by `-f` (kubectl exit 1), and
# namespace.yaml sorted after the objects that live in the namespace (kubectl applies a folder's
# files in name order), so the first `-f` apply failed with `namespaces "..." not found`.
import json
import os
import re
import shlex
import shutil
import subprocess
import unittest

from chart import helm_path
from emulator import Emulator, SOURCE_DIR

NS = "schema-upgrade-system"
# kind/name as kubectl prints them, for everything manifests/ and crds/ install.
EXPECTED = {
    "customresourcedefinition.apiextensions.k8s.io/schemaupgrades.olympus.io",
    "namespace/" + NS,
    "serviceaccount/schema-upgrade",
    "clusterrole.rbac.authorization.k8s.io/schema-upgrade",
    "clusterrolebinding.rbac.authorization.k8s.io/schema-upgrade",
    "role.rbac.authorization.k8s.io/schema-upgrade-leader-election",
    "rolebinding.rbac.authorization.k8s.io/schema-upgrade-leader-election",
    "deployment.apps/schema-upgrade",
    "service/schema-upgrade-metrics",
}


def setUpModule():
    if shutil.which("kubectl") is None:
        raise RuntimeError("kubectl is not installed: these tests need the real kubectl (make deps)")


def applied(stdout, verb):
    """The kind/name of every line `kubectl apply` printed with the given verb."""
    out = set()
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == verb:
            out.add(parts[0])
    return out


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator().start()
        self.addCleanup(self.emu.cleanup)

    def assert_installed(self):
        dep = json.loads(self.emu.kubectl("get", "-n", NS, "deployment", "schema-upgrade", "-o", "json").stdout)
        self.assertEqual(dep["spec"]["template"]["spec"]["serviceAccountName"], "schema-upgrade")
        crd = json.loads(self.emu.kubectl("get", "crd", "schemaupgrades.olympus.io", "-o", "json").stdout)
        self.assertEqual(crd["spec"]["names"]["shortNames"], ["su"])

    def test_apply_f_crds_and_manifests_as_the_readme_says(self):
        r = self.emu.kubectl("apply", "-f", "crds/", "-f", "manifests/", check=False)
        self.assertEqual(r.returncode, 0, "kubectl apply -f crds/ -f manifests/ failed:\n" + r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "")
        self.assertEqual(applied(r.stdout, "created"), EXPECTED)
        self.assert_installed()
        again = self.emu.kubectl("apply", "-f", "crds/", "-f", "manifests/")
        self.assertEqual(applied(again.stdout, "unchanged"), EXPECTED)

    def test_apply_k_manifests_installs_the_same_objects(self):
        r = self.emu.kubectl("apply", "-k", "manifests/", check=False)
        self.assertEqual(r.returncode, 0, "kubectl apply -k manifests/ failed:\n" + r.stdout + r.stderr)
        self.assertEqual(applied(r.stdout, "created"), EXPECTED)
        self.assert_installed()
        # Switching from one form to the other changes nothing.
        again = self.emu.kubectl("apply", "-f", "crds/", "-f", "manifests/")
        self.assertEqual(applied(again.stdout, "unchanged"), EXPECTED)

    def test_manifests_folder_has_no_file_kubectl_would_misread(self):
        # `kubectl apply -f DIR` sends every *.yaml/*.yml/*.json file; each must be an object.
        for folder in ("crds", "manifests"):
            for name in sorted(os.listdir(os.path.join(SOURCE_DIR, folder))):
                if name.endswith((".yaml", ".yml", ".json")):
                    with self.subTest(file=folder + "/" + name):
                        with open(os.path.join(SOURCE_DIR, folder, name)) as f:
                            text = f.read()
                        self.assertNotIn("kind: Kustomization", text)


def readme_blocks(title):
    """The ```sh blocks of the README section with the given title, as lists of commands."""
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        text = f.read()
    section = text.split("\n## " + title + "\n", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        joined = block.replace("\\\n", " ")
        blocks.append([l.split(" #")[0].strip() for l in joined.splitlines() if l.strip()])
    return blocks


class ReadmeCommandsTest(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator().start()
        self.addCleanup(self.emu.cleanup)

    def run_line(self, line):
        argv = shlex.split(line)
        tool = {"kubectl": "kubectl", "helm": helm_path()}[argv[0]]
        r = subprocess.run([tool, *argv[1:]], capture_output=True, text=True, timeout=180, cwd=SOURCE_DIR,
                           env=self.emu.env())
        self.assertEqual(r.returncode, 0, "README command failed: %s\n%s%s" % (line, r.stdout, r.stderr))
        return r

    def image(self, ns, name):
        dep = json.loads(self.emu.kubectl("get", "-n", ns, "deployment", name, "-o", "json").stdout)
        return dep["spec"]["template"]["spec"]["containers"][0]["image"]

    def install_block(self, first):
        blocks = [b for b in readme_blocks("Kubernetes") if b and b[0].startswith(first)]
        self.assertTrue(blocks, "the README's Kubernetes section has no block starting with `%s`" % first)
        return blocks[0]

    def test_kubectl_install_block(self):
        block = [l for l in self.install_block("kubectl apply -f crds/") if l.startswith("kubectl ")]
        self.assertEqual(block[0], "kubectl apply -f crds/ -f manifests/")
        for line in block:
            if " rollout status " not in line:
                self.run_line(line)
        self.assertEqual(self.image(NS, "schema-upgrade"), "registry.example.com/schema-upgrade-operator:0.1.0")

    def test_helm_install_block(self):
        block = [l for l in self.install_block("helm install ") if l.startswith("helm install")]
        self.assertEqual(len(block), 1)
        self.run_line(block[0])
        self.assertEqual(self.image(NS, "schema-upgrade-schema-upgrade-operator"),
                         "registry.example.com/schema-upgrade-operator:0.1.0")
        crd = self.emu.kubectl("get", "crd", "schemaupgrades.olympus.io", "-o", "name").stdout.strip()
        self.assertEqual(crd, "customresourcedefinition.apiextensions.k8s.io/schemaupgrades.olympus.io")


class DocsTest(unittest.TestCase):
    LUA = os.path.join(SOURCE_DIR, "charts", "schema-upgrade-operator", "files", "argocd-health.lua")

    @staticmethod
    def docs():
        with open(os.path.join(SOURCE_DIR, "docs", "kubernetes.md")) as f:
            return f.read()

    def test_docs_listing_is_the_shipped_script(self):
        listing = re.search(r"```lua\n(.*?)```", self.docs(), re.S).group(1)
        with open(self.LUA) as f:
            self.assertEqual(listing, f.read())

    def test_docs_argocd_cm_command_installs_the_key(self):
        cmd = next(l for l in self.docs().splitlines() if l.startswith("kubectl -n argocd patch configmap argocd-cm"))
        emu = Emulator().start()
        self.addCleanup(emu.cleanup)
        emu.kubectl("create", "namespace", "argocd")
        emu.kubectl("-n", "argocd", "create", "configmap", "argocd-cm", "--from-literal=url=https://argocd.example.com")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120, cwd=SOURCE_DIR, env=emu.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        data = json.loads(emu.kubectl("-n", "argocd", "get", "configmap", "argocd-cm", "-o", "json").stdout)["data"]
        with open(self.LUA) as f:
            self.assertEqual(data, {"url": "https://argocd.example.com",
                                    "resource.customizations.health.olympus.io_SchemaUpgrade": f.read()})


    def test_docs_examples_are_valid(self):
        blocks = re.findall(r"```yaml\n(.*?)```", self.docs(), re.S)
        upgrade = next(b for b in blocks if "kind: SchemaUpgrade" in b)
        values = next(b for b in blocks if b.startswith("extraEnv:"))
        emu = Emulator().start()
        self.addCleanup(emu.cleanup)
        emu.kubectl("apply", "-f", "crds/")
        emu.kubectl("wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=60s")
        r = emu.kubectl("apply", "--dry-run=server", "-f", "-", input=upgrade)
        self.assertIn("schemaupgrade.olympus.io/app created (server dry run)", r.stdout)
        path = os.path.join(emu.dir, "values-app.yaml")
        with open(path, "w") as f:
            f.write(values)
        out = subprocess.run([helm_path(), "template", "su", "charts/schema-upgrade-operator", "-f", path],
                             capture_output=True, text=True, cwd=SOURCE_DIR, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("mountPath: /migrations/app", out.stdout)
        self.assertIn("name: APP_DSN", out.stdout)


if __name__ == "__main__":
    unittest.main()
