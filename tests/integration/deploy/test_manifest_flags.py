# The controller Deployment of manifests/deployment.yaml and of the Helm chart (every value set)
# passes only flags the binary accepts: each flag is in `schema-upgrade controller --help`, and
# the binary parses the very argument list (run with --help appended, which parses then prints
# usage; an unknown flag or a missing value exits 2). The ports, probes, security context and
# state volume match the flags.
import os
import re
import subprocess
import unittest

from chart import VALUE_SETS, controller_container, manifest_documents, render

BINARY = os.environ.get("SU_BINARY", "")


def controller_help():
    r = subprocess.run([BINARY, "controller", "--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s controller --help exited %d:\n%s" % (BINARY, r.returncode, r.stderr))
    flags = {}
    for m in re.finditer(r"^\s+(?:-\w, )?--([a-z0-9-]+)( VALUE)?", r.stdout, re.M):
        flags[m.group(1)] = bool(m.group(2))
    return flags, r.stdout


def deployments():
    """name -> the controller Deployment, from manifests/ and from each chart value set."""
    out = {"manifests/deployment.yaml": next(d for d in manifest_documents("deployment.yaml") if d["kind"] == "Deployment")}
    for name, values in VALUE_SETS.items():
        _, docs = render(values)
        out["chart:" + name] = next(d for d in docs if d["kind"] == "Deployment")
    return out


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


class ManifestFlagsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BINARY or not os.access(BINARY, os.X_OK):
            raise RuntimeError("SU_BINARY must name the built schema-upgrade (ctest sets it)")
        cls.flags, cls.help = controller_help()
        cls.deployments = deployments()

    def args(self, dep):
        return controller_container(dep)["args"]

    def test_every_flag_is_one_the_binary_lists(self):
        for where, dep in self.deployments.items():
            args = self.args(dep)
            with self.subTest(deployment=where):
                self.assertEqual(args[0], "controller")
                for arg in args[1:]:
                    self.assertTrue(arg.startswith("--"), "%s: %r is not a --flag" % (where, arg))
                    name, eq, value = arg[2:].partition("=")
                    if name not in self.flags:
                        self.fail("%s passes %s, which `schema-upgrade controller --help` does not list:\n%s"
                                  % (where, arg, self.help))
                    if self.flags[name]:
                        self.assertTrue(eq and value, "%s: --%s takes a value: write --%s=VALUE" % (where, name, name))
                    else:
                        self.assertFalse(eq, "%s: --%s is a switch and takes no value" % (where, name))

    def test_the_binary_parses_the_argument_list(self):
        for where, dep in self.deployments.items():
            args = self.args(dep)
            with self.subTest(deployment=where):
                r = subprocess.run([BINARY, *args, "--help"], capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, "%s: `schema-upgrade %s` is refused:\n%s" % (where, " ".join(args), r.stderr))

    def test_kubernetes_mode_with_health_metrics_and_state(self):
        for where, dep in self.deployments.items():
            c = controller_container(dep)
            args = dict(a[2:].partition("=")[::2] for a in c["args"][1:])
            with self.subTest(deployment=where):
                self.assertIn("kubernetes", args)
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                self.assertEqual(port_of(args["metrics-addr"]), ports["metrics"])
                self.assertEqual(port_of(args["health-addr"]), ports["health"])
                self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
                self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})
                mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
                self.assertIn(args["state-dir"], mounts, "the state dir must be a mounted (writable) volume")
                volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
                state = volumes[mounts[args["state-dir"]]]
                self.assertTrue("emptyDir" in state or "persistentVolumeClaim" in state, state)
                self.assertIn("/tmp", mounts)
                sc = c["securityContext"]
                self.assertEqual((sc["runAsNonRoot"], sc["runAsUser"], sc["readOnlyRootFilesystem"],
                                  sc["allowPrivilegeEscalation"], sc["capabilities"]["drop"], sc["seccompProfile"]["type"]),
                                 (True, 65532, True, False, ["ALL"], "RuntimeDefault"))
                self.assertTrue(c["resources"]["requests"] and c["resources"]["limits"]["memory"])
                env = {e["name"]: e for e in c.get("env", [])}
                self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace")
                self.assertEqual(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name")
                if int(dep["spec"]["replicas"]) > 1:
                    self.assertIn("leader-elect", args, "more than one replica needs --leader-elect")


if __name__ == "__main__":
    unittest.main()
