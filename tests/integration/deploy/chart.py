# Helpers for the deploy tests: the real helm (tests/support/install-helm.sh fetches it when
# missing), the chart rendered with a value set, and the controller container of a Deployment.
import os
import shutil
import subprocess

import yaml  # python3-yaml, a dependency of python3-kubernetes

SOURCE_DIR = os.environ.get("SU_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CHART = os.path.join(SOURCE_DIR, "charts", "schema-upgrade-operator")
MANIFESTS = os.path.join(SOURCE_DIR, "manifests")
INSTALL_HELM = os.path.join(SOURCE_DIR, "tests", "support", "install-helm.sh")

# Value sets every chart test renders: the defaults and each non-default the chart offers.
VALUE_SETS = {
    "default": [],
    "watch-namespaces": ["--set", "watchNamespaces={ciam,billing}"],
    "no-leader-election": ["--set", "leaderElection.enabled=false"],
    "two-replicas": ["--set", "replicas=2"],
    "all-non-default": [
        "--set", "watchNamespaces={ciam}", "--set", "replicas=2",
        "--set", "leaderElection.id=su-lease", "--set", "leaderElection.leaseDuration=30s",
        "--set", "leaderElection.renewDeadline=20s", "--set", "leaderElection.retryPeriod=4s",
        "--set", "kubeApi.qps=20", "--set", "kubeApi.burst=40", "--set", "workers=4", "--set", "resync=10m",
        "--set", "metrics.port=9090", "--set", "health.port=9091", "--set", "metrics.service.enabled=false",
        "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=preexisting",
        "--set", "state.existingClaim=su-state", "--set", "state.mountPath=/state",
        "--set", "argocdHealthCheck.configMap.enabled=true",
        "--set-json", 'extraArgs=["--leader-election-namespace=schema-upgrade-system"]',
        "--set-json", 'extraEnv=[{"name":"APP_DSN","valueFrom":{"secretKeyRef":{"name":"app-db","key":"dsn"}}}]',
        "--set-json", 'extraVolumes=[{"name":"app-migrations","configMap":{"name":"app-migrations"}}]',
        "--set-json", 'extraVolumeMounts=[{"name":"app-migrations","mountPath":"/migrations/app","readOnly":true}]'],
}

_helm = None


def helm_path():
    global _helm
    if _helm is None:
        _helm = shutil.which("helm")
        if _helm is None:
            r = subprocess.run(["sh", INSTALL_HELM], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise RuntimeError("helm is missing and tests/support/install-helm.sh failed:\n" + r.stderr)
            _helm = r.stdout.strip().splitlines()[-1]
    return _helm


def helm(*args, check=True, env=None):
    r = subprocess.run([helm_path(), *args], capture_output=True, text=True, timeout=120, cwd=SOURCE_DIR, env=env)
    if check and r.returncode != 0:
        raise AssertionError("helm %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def render(values, namespace="schema-upgrade-system", crds=False):
    """(text, documents) of `helm template su CHART` with the values."""
    args = ["template", "su", CHART, "--namespace", namespace, *values]
    if crds:
        args.append("--include-crds")
    out = helm(*args).stdout
    return out, [d for d in yaml.safe_load_all(out) if d]


def manifest_documents(name):
    with open(os.path.join(MANIFESTS, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def controller_container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "controller")
