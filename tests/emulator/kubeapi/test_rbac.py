# RBAC in the API server emulator: an --identity token is authorized by the stored roles and
# bindings, here the controller's ServiceAccount with manifests/rbac.yaml installed by
# `kubectl apply -k manifests/`. Proves the 403 wording a client must turn into an error naming
# the verb and resource, and that the shipped RBAC allows what the controller does (and no more).
import json
import os
import unittest

from emulator import Emulator

SA = "system:serviceaccount:schema-upgrade-system:schema-upgrade"
APP = {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade", "metadata": {"name": "app", "namespace": "default"},
       "spec": {"targetVersion": "v1", "database": {"dsnFrom": {"env": "DSN"}}, "migrations": {"engine": "sql", "path": "/m"}}}


class RbacTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator("--identity", "controller=" + SA).start()
        cls.emu.kubectl("apply", "-k", "manifests/")
        cls.emu.kubectl("apply", "-f", "-", input=json.dumps(APP))

    @classmethod
    def tearDownClass(cls):
        cls.emu.cleanup()

    def sa(self, *args, check=True, input=None):
        return self.emu.kubectl("--kubeconfig", os.path.join(self.emu.dir, "kubeconfig-controller"), *args,
                                check=check, input=input)

    def test_controller_can_do_its_job(self):
        self.assertEqual(self.sa("get", "su", "-A", "-o", "name").stdout.split(), ["schemaupgrade.olympus.io/app"])
        # The status writer merge-patches the subresource without reading it first (kubectl patch
        # would GET schemaupgrades/status, which the controller neither needs nor is granted).
        from kubernetes import client, config
        api = config.new_client_from_config(config_file=os.path.join(self.emu.dir, "kubeconfig-controller"))
        try:
            client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
                "olympus.io", "v1alpha1", "default", "schemaupgrades", "app", {"status": {"phase": "Planning"}})
        finally:
            api.close()
        self.assertEqual(self.emu.kubectl("get", "su", "app", "-o", "jsonpath={.status.phase}").stdout, "Planning")
        self.sa("create", "-f", "-", input=json.dumps({
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"generateName": "app.", "namespace": "default"},
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "olympus.io/schema-upgrade",
            "reportingInstance": "c-0", "action": "Plan", "reason": "Planned", "type": "Normal",
            "regarding": {"kind": "SchemaUpgrade", "name": "app", "namespace": "default"}}))
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "schema-upgrade", "namespace": "schema-upgrade-system"},
                 "spec": {"holderIdentity": "c-0", "leaseDurationSeconds": 15}}
        self.sa("create", "-f", "-", input=json.dumps(lease))
        self.sa("get", "lease", "-n", "schema-upgrade-system", "schema-upgrade")

    def test_denials_are_403_naming_verb_resource_and_scope(self):
        r = self.sa("delete", "su", "app", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('schemaupgrades.olympus.io "app" is forbidden: User "%s" cannot delete resource "schemaupgrades" '
                      'in API group "olympus.io" in the namespace "default"' % SA, r.stderr)
        r = self.sa("get", "secrets", "-A", check=False)
        self.assertIn('secrets is forbidden: User "%s" cannot list resource "secrets" in API group "" at the cluster scope' % SA, r.stderr)
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x", "namespace": "default"}}
        r = self.sa("create", "-f", "-", input=json.dumps(lease), check=False)
        self.assertIn('cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "default"', r.stderr)
        r = self.sa("get", "su", "app", "-o", "name")
        self.assertEqual(r.stdout.strip(), "schemaupgrade.olympus.io/app")
        # Spec is never written by the controller: no update/patch on the main resource.
        r = self.sa("label", "su", "app", "x=y", check=False)
        self.assertIn('cannot patch resource "schemaupgrades" in API group "olympus.io"', r.stderr)


if __name__ == "__main__":
    unittest.main()
