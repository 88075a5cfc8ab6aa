# The GitOps health of a SchemaUpgrade, on statuses the reconciler really wrote (status_samples/,
# recorded by status_samples/generate.sh from `schema-upgrade apply` against PostgreSQL):
# - Argo CD: charts/schema-upgrade-operator/files/argocd-health.lua run by a real Lua 5.1
#   interpreter (Debian lua5.1; Argo CD's gopher-lua is Lua 5.1) with `obj` set as Argo CD sets it.
# - Flux: kstatus's generic rules (kstatus.py) on the same objects, with no customisation.
# Each case says what a cluster admin should see in both tools.
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from kstatus import compute, CURRENT, FAILED, IN_PROGRESS

SOURCE_DIR = os.environ.get("SU_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LUA_SCRIPT = os.path.join(SOURCE_DIR, "charts", "schema-upgrade-operator", "files", "argocd-health.lua")
SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "status_samples")
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended"}

# sample (None: no status yet), generation bump (stale observedGeneration), Argo CD, kstatus.
CASES = {
    "no-status-yet": (None, 0, "Progressing", CURRENT),
    "migrating": ("migrating", 0, "Progressing", IN_PROGRESS),
    "retrying-database-down": ("database-down-retrying", 0, "Progressing", IN_PROGRESS),
    "waiting-for-approval": ("waiting-approval", 0, "Suspended", IN_PROGRESS),
    "waiting-for-window": ("waiting-window", 0, "Suspended", IN_PROGRESS),
    "dry-run": ("dry-run", 0, "Suspended", CURRENT),
    "succeeded-at-target": ("succeeded", 0, "Healthy", CURRENT),
    "stale-observed-generation": ("succeeded", 1, "Progressing", IN_PROGRESS),
    "failed-stalled": ("failed", 0, "Degraded", FAILED),
    "retries-exhausted-stalled": ("retries-exhausted", 0, "Degraded", FAILED),
    "ready-unknown-database-down-at-target": ("database-down-at-target", 0, "Healthy", CURRENT),
}


def sample_object(sample, bump):
    obj = {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade",
           "metadata": {"name": "app", "namespace": "ciam", "generation": 1}}
    if sample is not None:
        with open(os.path.join(SAMPLES, sample + ".json")) as f:
            obj["status"] = json.load(f)
        obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + bump
    return obj


def lua_literal(v):
    """A JSON value as a Lua table constructor (null -> nil, as Argo CD's JSON-to-Lua does)."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        # Every byte that is not plain printable ASCII as a decimal escape (Lua 5.1: \ddd).
        return '"' + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else "\\%03d" % b
                             for b in v.encode()) + '"'
    if isinstance(v, list):
        return "{" + ", ".join(lua_literal(x) for x in v) + "}"
    return "{" + ", ".join("[%s] = %s" % (lua_literal(k), lua_literal(x)) for k, x in v.items()) + "}"


def argocd_health(obj):
    """Runs the health script as Argo CD does: `obj` global, the chunk returns hs."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("obj = %s\n" % lua_literal(obj))
        f.write("local hs = assert(loadfile(%s))()\n" % lua_literal(LUA_SCRIPT))
        f.write('assert(type(hs) == "table", "the script returned no table")\n')
        f.write('io.write(tostring(hs.status), "\\n", tostring(hs.message), "\\n")\n')
        path = f.name
    try:
        r = subprocess.run(["lua5.1", path], capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        raise AssertionError("lua5.1 failed on the health script:\n" + r.stderr)
    status, message = r.stdout.split("\n", 1)
    return status, message.rstrip("\n")


def setUpModule():
    if shutil.which("lua5.1") is None:
        raise RuntimeError("lua5.1 is not installed (make deps installs Debian's lua5.1)")


class HealthCheckTest(unittest.TestCase):
    def test_every_case(self):
        for name, (sample, bump, argo, kstatus) in CASES.items():
            with self.subTest(case=name):
                obj = sample_object(sample, bump)
                status, message = argocd_health(obj)
                self.assertIn(status, ARGO_STATUSES)
                self.assertEqual(status, argo, "Argo CD health of %s: %s" % (name, message))
                self.assertNotEqual(message, "", "Argo CD shows hs.message: it must say something")
                got, why = compute(obj)
                self.assertEqual(got, kstatus, "kstatus of %s: %s" % (name, why))

    def test_messages_carry_the_controllers_words(self):
        obj = sample_object("failed", 0)
        _, message = argocd_health(obj)
        self.assertIn("003_broken", message)
        self.assertIn("Fix the file", message)
        _, message = argocd_health(sample_object("waiting-approval", 0))
        self.assertEqual(message, sample_object("waiting-approval", 0)["status"]["message"])
        _, message = argocd_health(sample_object("succeeded", 1))
        self.assertIn("generation 2", message)

    def test_every_recorded_sample_is_a_case(self):
        recorded = {f[:-5] for f in os.listdir(SAMPLES) if f.endswith(".json")}
        used = {s for s, _, _, _ in CASES.values() if s}
        self.assertEqual(recorded, used)

    def test_samples_are_the_reconcilers_shapes(self):
        # The kstatus conditions as the reconciler sets them in each situation (guards the samples
        # against hand edits; regenerate them with generate.sh instead).
        def conds(sample):
            return {c["type"]: (c["status"], c["reason"]) for c in sample_object(sample, 0)["status"]["conditions"]}
        self.assertEqual(conds("succeeded")["Ready"], ("True", "Succeeded"))
        self.assertEqual(conds("migrating")["Reconciling"], ("True", "Migrating"))
        self.assertEqual(conds("waiting-approval")["Reconciling"], ("True", "AwaitingApproval"))
        self.assertEqual(conds("waiting-window")["Reconciling"], ("True", "OutsideMaintenanceWindow"))
        self.assertEqual(conds("dry-run")["Reconciling"], ("False", "DryRun"))
        self.assertEqual(conds("failed")["Stalled"], ("True", "MigrationFailed"))
        self.assertEqual(conds("retries-exhausted")["Stalled"], ("True", "RetriesExhausted"))
        self.assertEqual(conds("database-down-at-target")["Ready"], ("Unknown", "DatabaseUnavailable"))


if __name__ == "__main__":
    unittest.main()
