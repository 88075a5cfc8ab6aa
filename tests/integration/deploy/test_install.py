# The install commands the README gives, run as written with the real kubectl against the API
# server emulator (real applies, not dry runs): `kubectl apply -f crds/ -f manifests/` and
# `kubectl apply -k manifests/` each create the same objects, exit 0, and are idempotent.
# Regression: manifests/kustomization.yaml was sent to the server by `-f` (kubectl exit 1), and
# namespace.yaml sorted after the objects that live in the namespace (kubectl applies a folder's
# files in name order), so the first `-f` apply failed with `namespaces "..." not found`.
import json
import os
import shutil
import unittest

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


if __name__ == "__main__":
    unittest.main()
