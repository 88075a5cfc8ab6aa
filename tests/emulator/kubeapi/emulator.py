# Test-side helpers for the API server emulator: start kubeapi.py as its own process in a temp
# folder, wait (on its ready line, not a sleep) until it serves, run the real kubectl against it
# with a throwaway HOME and cache, and stop it with SIGTERM.
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KUBEAPI = os.path.join(HERE, "kubeapi.py")
SOURCE_DIR = os.environ.get("SU_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PYTHON = "/usr/bin/python3"


class Emulator:
    def __init__(self, *extra, directory=None, port=0):
        self.own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="kubeemu-")
        self.extra = list(extra)
        self.port = port
        self.proc = None

    def start(self, timeout=60):
        self.proc = subprocess.Popen([PYTHON, KUBEAPI, "--dir", self.dir, "--port", str(self.port), *self.extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in iter(self.proc.stdout.readline, "")] + [lines.put(None)],
                         daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if not line or "ready" not in line:
            self.proc.kill()
            raise RuntimeError("kubeapi.py did not become ready: %s %s" % (line, self.proc.stderr.read()))
        self.port = int(line.split("port=")[1].split()[0])
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if self.proc:
            self.proc.stdout.close()
            self.proc.stderr.close()
        return rc

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        env = dict(os.environ)
        env.update({"KUBECONFIG": self.kubeconfig, "HOME": self.home, "KUBECACHEDIR": os.path.join(self.dir, "cache")})
        return env

    def kubectl(self, *args, input=None, check=True, timeout=120):
        r = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=self.env(),
                           timeout=timeout, cwd=SOURCE_DIR)
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def kubectl_bg(self, *args):
        """kubectl in the background; the caller kills it (use close_bg in cleanups)."""
        return subprocess.Popen(["kubectl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env(), cwd=SOURCE_DIR)

    @staticmethod
    def close_bg(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()

    def post(self, path, body=None):
        """POSTs JSON to an emulator hook (e.g. /emulator/images) with the admin token."""
        import json
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path), method="POST",
                                     data=json.dumps(body or {}).encode(),
                                     headers={"Authorization": "Bearer " + self.token(), "Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return json.loads(r.read().decode())

    def token(self):
        with open(os.path.join(self.dir, "token")) as f:
            return f.read().strip()


class LineReader:
    """Reads a process's stdout lines on a thread so a test can wait for one with a deadline."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching line within %ss; saw %r" % (timeout, self.seen))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("process ended; saw %r; stderr %s" % (self.seen, self.proc.stderr.read()))
            self.seen.append(line)
            if predicate(line):
                return line


def python_client(emu):
    """A kubernetes.client.ApiClient (Debian python3-kubernetes) for the emulator's kubeconfig."""
    from kubernetes import config
    return config.new_client_from_config(config_file=emu.kubeconfig)


if __name__ == "__main__":
    sys.exit("import this module from the tests")
