"""bench/kube_source.py: the Kubernetes side of bench/controller.py (`--source kubernetes`).

Starts the API server emulator (tests/emulator/kubeapi/kubeapi.py) in the bench's temp folder,
applies the CRD (`kubectl apply -k crds/`), creates the SchemaUpgrades through the API (one HTTPS
keep-alive connection, token auth, the emulator's CA), and measures what the controller does to
them: status reads for "all Succeeded", and spec edits (JSON merge patch on the object) timed
through a watch on that one object to the first status written for the new generation and to
Ready=True at the new version.

The emulator is its own process (python3): its CPU is read from /proc separately from the
controller's. Its stderr goes to DIR/kubeapi.stderr (a pipe nobody reads could fill and block it).
"""
import http.client
import json
import os
import queue
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
KUBEAPI = os.path.join(SOURCE_DIR, "tests", "emulator", "kubeapi", "kubeapi.py")
GROUP_PATH = "/apis/olympus.io/v1alpha1/namespaces/%s/schemaupgrades"


class KubeApi:
    """The emulator: the process, and a small JSON client over one keep-alive HTTPS connection."""

    def __init__(self, work):
        self.dir = os.path.join(work, "kubeapi")
        os.makedirs(self.dir)
        self.err = open(os.path.join(self.dir, "kubeapi.stderr"), "w")
        self.proc = subprocess.Popen(["/usr/bin/python3", KUBEAPI, "--dir", self.dir, "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=120)
        except queue.Empty:
            line = ""
        if "ready" not in line:
            self.proc.kill()
            raise SystemExit("bench: kubeapi.py did not become ready (%s)" % self.err.name)
        self.port = int(line.split("port=")[1].split()[0])
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(os.path.join(self.dir, "token")) as f:
            self.token = f.read().strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))
        self.conn = None
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)

    def _connect(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=120)

    def request(self, method, path, body=None, content_type="application/json"):
        headers = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        for attempt in range(2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                text = r.read().decode()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.status >= 300:
            raise SystemExit("bench: %s %s -> %d %s" % (method, path, r.status, text[:500]))
        return json.loads(text) if text else {}

    def watch(self, path, resource_version):
        """A watch stream (its own connection): yields (arrival monotonic time, event dict)."""
        conn = self._connect()
        q = urllib.parse.urlencode({"watch": "true", "resourceVersion": resource_version,
                                    "allowWatchBookmarks": "false", "timeoutSeconds": "600"})
        conn.request("GET", path + ("&" if "?" in path else "?") + q,
                     headers={"Authorization": "Bearer " + self.token, "Accept": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            raise SystemExit("bench: watch %s -> %d %s" % (path, r.status, r.read()[:500]))
        try:
            while True:
                line = r.readline()
                if not line:
                    return
                if line.strip():
                    yield time.monotonic(), json.loads(line)
        finally:
            conn.close()

    def kubectl(self, *args):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home, KUBECACHEDIR=os.path.join(self.dir, "cache"))
        subprocess.run(["kubectl", *args], env=env, check=True, cwd=SOURCE_DIR, stdout=subprocess.DEVNULL)

    def stop(self):
        if self.conn is not None:
            self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.err.close()


def su_object(name, ns, env, path, target):
    return {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"targetVersion": target, "database": {"dsnFrom": {"env": env}},
                     "migrations": {"engine": "sql", "path": path},
                     "policy": {"backup": {"enabled": False}}}}


def ready_at(obj, generation, version):
    """True when obj's status says Ready=True for generation at version."""
    st = obj.get("status") or {}
    if st.get("observedGeneration") != generation or st.get("currentVersion") != version:
        return False
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True" and c.get("observedGeneration", generation) == generation
    return False


class KubeSource:
    """The SchemaUpgrades as objects in namespace `bench` of the emulator."""

    NS = "bench"

    def __init__(self, work):
        self.api = KubeApi(work)
        self.api.kubectl("apply", "-k", os.path.join(SOURCE_DIR, "crds"))
        self.api.kubectl("wait", "--for=condition=Established", "crd/schemaupgrades.olympus.io", "--timeout=120s")
        self.api.request("POST", "/api/v1/namespaces",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.NS}})
        self.path = GROUP_PATH % self.NS

    def name(self):
        return "kubernetes (emulator)"

    def create(self, name, env, path, target):
        self.api.request("POST", self.path, su_object(name, self.NS, env, path, target))

    def controller_args(self, root):
        return ["--kubernetes", "--kubeconfig", self.api.kubeconfig, "--namespace", self.NS]

    def controller_env(self, env):
        env = dict(env)
        env.pop("KUBECONFIG", None)
        return env

    def emulator_pid(self):
        return self.api.proc.pid

    def count_succeeded(self):
        items = self.api.request("GET", self.path).get("items", [])
        return sum(1 for o in items if (o.get("status") or {}).get("phase") == "Succeeded")

    def edit(self, name, env, path, version):
        """Patches spec.targetVersion; returns (seconds to the first status of the new generation,
        seconds to Ready=True at version)."""
        t0 = time.monotonic()
        obj = self.api.request("PATCH", self.path + "/" + name, {"spec": {"targetVersion": version}},
                               content_type="application/merge-patch+json")
        gen = obj["metadata"]["generation"]
        first = None
        if ready_at(obj, gen, version):
            return 0.0, 0.0
        stream = self.api.watch(self.path + "?fieldSelector=metadata.name%3D" + name, obj["metadata"]["resourceVersion"])
        for at, ev in stream:
            if ev.get("type") == "ERROR":
                raise SystemExit("bench: watch error %s" % ev)
            o = ev.get("object") or {}
            if first is None and (o.get("status") or {}).get("observedGeneration") == gen:
                first = at - t0
            if ready_at(o, gen, version):
                return first, at - t0
            if at - t0 > 600:
                break
        raise SystemExit("bench: %s not Ready at %s within 10 min" % (name, version))

    def close(self):
        self.api.stop()
