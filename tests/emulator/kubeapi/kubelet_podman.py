# The podman container runtime (--kubelet podman): each container of a pod runs as a real podman
# container on the host network (`podman run -d --network host`), named
# kubeemu-<instance>-<pod uid prefix>-<container>-<restart> and labelled kubeemu.instance=<instance>
# so that this emulator finds, and on stop removes, exactly the containers it started (never
# another's). Nothing is pulled: an image that is not local is ErrImagePull / ImagePullBackOff.
# What the kubelet does before starting a container, from the store:
#   - command/args as Kubernetes means them (command replaces the image's ENTRYPOINT and drops
#     its CMD, args replace CMD), $(VAR) references expanded from the container's env;
#   - env: value, valueFrom secretKeyRef / configMapKeyRef (optional honoured) / fieldRef
#     (metadata.name, metadata.namespace, metadata.uid, spec.nodeName, spec.serviceAccountName,
#     status.podIP, status.hostIP), envFrom secretRef / configMapRef with prefix; a missing
#     Secret, ConfigMap or key is CreateContainerConfigError worded as the kubelet words it
#     (`secret "x" not found`, `couldn't find key k in Secret ns/x`); values go to podman in a
#     0600 --env-file, never on a command line;
#   - volumes: emptyDir (a folder per pod, removed with it; mode 0777, or owned by the pod's
#     fsGroup with setgid, which is added to the container's groups), secret and configMap (files written
#     per key or items), hostPath, persistentVolumeClaim (a folder per claim,
#     <--dir>/claims/<namespace>/<claim>, kept after the emulator stops so a test can read what a
#     pod wrote to it); volumeMounts with readOnly and subPath; workingDir;
#     securityContext.runAsUser/runAsGroup, fsGroup, readOnlyRootFilesystem (podman --read-only);
#   - the termination message file (a host file mounted at terminationMessagePath);
#   - in-cluster API access: KUBERNETES_SERVICE_HOST/PORT and, unless automountServiceAccountToken
#     is false (pod or ServiceAccount), /var/run/secrets/kubernetes.io/serviceaccount with a token
#     the emulator authorizes by RBAC as system:serviceaccount:<ns>:<name> (revoked with the pod).
# Readiness: running, or, with a readinessProbe, its exec command (`podman exec`), httpGet or
# tcpSocket against 127.0.0.1 passing (initialDelaySeconds honoured, period at most 1 s; a port
# may be a number or the name of one of the container's ports). A livenessProbe of the same kinds
# that fails failureThreshold (default 3) times in a row, periodSeconds apart, kills the container
# (`podman kill`, exit 137), which the kubelet restarts as its restartPolicy says.
# The exit code comes from `podman wait` (a thread per container, which wakes the controller
# loop); logs are `podman logs` (stdout and stderr together).
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from kubelet import StartError

LABEL = "kubeemu.instance"


def _run(args, timeout=120, **kw):
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, **kw)


class PodmanContainer:
    def __init__(self, name):
        self.name = name
        self.id = None
        self.image_id = ""
        self.exit_code = None
        self.ready = False
        self.term_file = None
        self.removed = False
        self.stop = threading.Event()


class PodmanRuntime:
    def __init__(self, instance, cluster=None, claims_dir=None):
        # cluster: {"mint": f(user) -> bearer token, "ca": path of ca.crt, "port": API port}, for
        # the in-cluster service account files and KUBERNETES_SERVICE_* variables.
        self.cluster = cluster
        self.tokens = {}   # pod uid -> token
        self.instance = "kubeemu-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", instance or str(os.getpid()))
        self.root = tempfile.mkdtemp(prefix=self.instance + "-")
        # persistentVolumeClaim volumes: a folder per claim (bound to nothing else), outliving pods.
        self.claims = claims_dir or os.path.join(self.root, "claims")
        self.manager = None
        self.lock = threading.Lock()
        self.containers = []
        self.counter = 0

    # -- configuration from the store -------------------------------------------------------------
    @staticmethod
    def _decode(obj, kind):
        out = {}
        if kind == "Secret":
            for k, v in (obj.get("data") or {}).items():
                try:
                    out[k] = base64.b64decode(v).decode("utf-8", "replace")
                except (ValueError, TypeError):
                    out[k] = ""
            for k, v in (obj.get("stringData") or {}).items():
                out[k] = v
        else:
            out.update(obj.get("data") or {})
            for k, v in (obj.get("binaryData") or {}).items():
                out[k] = base64.b64decode(v).decode("utf-8", "replace")
        return out

    def _source(self, api, ns, kind, name, optional=False):
        obj = api.get("", "secrets" if kind == "Secret" else "configmaps", ns, name)
        if obj is None:
            if optional:
                return None
            raise StartError("CreateContainerConfigError", '%s "%s" not found' % ("secret" if kind == "Secret" else "configmap", name))
        return self._decode(obj, kind)

    def _env(self, api, pod, cspec):
        ns = pod["metadata"]["namespace"]
        env = {}
        for ef in cspec.get("envFrom") or []:
            prefix = ef.get("prefix", "")
            for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                ref = ef.get(key)
                if ref:
                    data = self._source(api, ns, kind, ref.get("name", ""), ref.get("optional", False))
                    for k, v in (data or {}).items():
                        env[prefix + k] = v
        for e in cspec.get("env") or []:
            name = e.get("name")
            if "value" in e or "valueFrom" not in e:
                env[name] = expand(e.get("value", ""), env)
                continue
            vf = e["valueFrom"]
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                ref = vf.get(key)
                if ref:
                    optional = ref.get("optional", False)
                    data = self._source(api, ns, kind, ref.get("name", ""), optional)
                    if data is None:
                        break
                    if ref.get("key") not in data:
                        if optional:
                            break
                        raise StartError("CreateContainerConfigError", "couldn't find key %s in %s %s/%s" % (
                            ref.get("key"), kind, ns, ref.get("name")))
                    env[name] = data[ref["key"]]
            if vf.get("fieldRef"):
                path = vf["fieldRef"].get("fieldPath", "")
                env[name] = {"metadata.name": pod["metadata"]["name"], "metadata.namespace": ns,
                             "metadata.uid": pod["metadata"]["uid"], "spec.nodeName": pod["spec"].get("nodeName", ""),
                             "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
                             "status.podIP": "127.0.0.1", "status.hostIP": "127.0.0.1"}.get(path, "")
        return env

    def _volumes(self, api, pod):
        """{volume name: host path} for the pod's volumes (created on first use)."""
        ns = pod["metadata"]["namespace"]
        pdir = os.path.join(self.root, "pods", pod["metadata"]["uid"])
        out = {}
        for v in pod["spec"].get("volumes") or []:
            name = v.get("name")
            if "emptyDir" in v:
                out[name] = os.path.join(pdir, "empty", name)
                os.makedirs(out[name], exist_ok=True)
                # As the kubelet makes them: world-writable, and with an fsGroup owned by that group
                # with the setgid bit (so a non-root container can write its state there).
                fs_group = (pod["spec"].get("securityContext") or {}).get("fsGroup")
                if fs_group is not None:
                    os.chown(out[name], -1, int(fs_group))
                os.chmod(out[name], 0o2777 if fs_group is not None else 0o777)
            elif "hostPath" in v:
                out[name] = v["hostPath"].get("path")
            elif "persistentVolumeClaim" in v:
                out[name] = os.path.join(self.claims, ns, v["persistentVolumeClaim"].get("claimName", ""))
                os.makedirs(out[name], exist_ok=True)
                # fsGroup on a volume that supports ownership management (most block and disk
                # volumes): the kubelet gives the volume's root to that group, group-writable, setgid.
                fs_group = (pod["spec"].get("securityContext") or {}).get("fsGroup")
                if fs_group is not None:
                    os.chown(out[name], -1, int(fs_group))
                    os.chmod(out[name], os.stat(out[name]).st_mode & 0o777 | 0o2070)
            elif "secret" in v or "configMap" in v:
                kind = "Secret" if "secret" in v else "ConfigMap"
                src = v["secret"] if kind == "Secret" else v["configMap"]
                data = self._source(api, ns, kind, src.get("secretName" if kind == "Secret" else "name", ""), src.get("optional", False)) or {}
                d = os.path.join(pdir, "files", name)
                os.makedirs(d, exist_ok=True)
                items = src.get("items") or [{"key": k, "path": k} for k in data]
                for it in items:
                    if it["key"] not in data:
                        raise StartError("CreateContainerConfigError", "couldn't find key %s in %s %s/%s" % (
                            it["key"], kind, ns, src.get("secretName") or src.get("name")))
                    p = os.path.join(d, it.get("path", it["key"]))
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    with open(p, "w") as f:
                        f.write(data[it["key"]])
                    os.chmod(p, 0o644)
                out[name] = d
        return out

    def _service_account(self, api, pod):
        """(mount args, env) of the in-cluster API access: the files of the pod's service account
        at /var/run/secrets/kubernetes.io/serviceaccount (a token RBAC-checked as
        system:serviceaccount:<ns>:<name>, ca.crt, namespace) unless automountServiceAccountToken
        is false, and KUBERNETES_SERVICE_HOST/PORT."""
        if not self.cluster:
            return [], {}
        port = str(self.cluster["port"])
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
               "KUBERNETES_SERVICE_PORT_HTTPS": port, "KUBERNETES_PORT": "tcp://127.0.0.1:" + port}
        spec, ns = pod["spec"], pod["metadata"]["namespace"]
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        auto = spec.get("automountServiceAccountToken")
        if auto is None:
            sa_obj = api.get("", "serviceaccounts", ns, sa)
            auto = (sa_obj or {}).get("automountServiceAccountToken", True)
        if auto is False:
            return [], env
        uid = pod["metadata"]["uid"]
        d = os.path.join(self.root, "pods", uid, "serviceaccount")
        if uid not in self.tokens:
            self.tokens[uid] = self.cluster["mint"]("system:serviceaccount:%s:%s" % (ns, sa))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "token"), "w") as f:
                f.write(self.tokens[uid])
            with open(os.path.join(d, "namespace"), "w") as f:
                f.write(ns)
            shutil.copyfile(self.cluster["ca"], os.path.join(d, "ca.crt"))
            for n in ("token", "namespace", "ca.crt"):
                os.chmod(os.path.join(d, n), 0o644)
        return ["-v", d + ":/var/run/secrets/kubernetes.io/serviceaccount:ro"], env

    # -- the runtime interface ----------------------------------------------------------------------
    def start(self, pod, cspec, ctx):
        api = ctx["api"]
        image = cspec.get("image", "")
        insp = _run(["image", "inspect", "--format", "{{.Id}}", image])
        if insp.returncode != 0:
            raise StartError("ErrImagePull", 'rpc error: code = NotFound desc = failed to pull and unpack image "%s": '
                             'image not present locally (the podman kubelet pulls nothing: build or load it first)' % image)
        sa_args, env = self._service_account(api, pod)
        env.update(self._env(api, pod, cspec))
        vols = self._volumes(api, pod)
        with self.lock:
            self.counter += 1
            n = self.counter
        name = "%s-%s-%s-%d" % (self.instance, pod["metadata"]["uid"][:8], re.sub(r"[^a-zA-Z0-9_.-]", "-", cspec.get("name", "c")), n)
        h = PodmanContainer(name)
        h.image_id = insp.stdout.strip()
        cdir = os.path.join(self.root, "containers", name)
        os.makedirs(cdir, exist_ok=True)
        h.term_file = os.path.join(cdir, "termination-log")
        open(h.term_file, "w").close()
        os.chmod(h.term_file, 0o666)
        envfile = os.path.join(cdir, "env")
        fd = os.open(envfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for k, v in env.items():
                f.write("%s=%s\n" % (k, v.replace("\n", "\\n")))
        args = ["run", "-d", "--name", name, "--network", "host", "--label", "%s=%s" % (LABEL, self.instance),
                "--label", "kubeemu.pod=%s/%s" % (pod["metadata"]["namespace"], pod["metadata"]["name"]),
                "--env-file", envfile, "--hostname", pod["spec"].get("hostname") or pod["metadata"]["name"],
                "-v", "%s:%s" % (h.term_file, cspec.get("terminationMessagePath") or "/dev/termination-log")] + sa_args
        for m in cspec.get("volumeMounts") or []:
            src = vols.get(m.get("name"))
            if src is None:
                raise StartError("CreateContainerConfigError", 'volume "%s" is not defined in the pod (or its kind is not emulated)' % m.get("name"))
            if m.get("subPath"):
                src = os.path.join(src, m["subPath"])
                os.makedirs(src, exist_ok=True)
            args += ["-v", "%s:%s%s" % (src, m["mountPath"], ":ro" if m.get("readOnly") else "")]
        if cspec.get("workingDir"):
            args += ["-w", cspec["workingDir"]]
        sc = cspec.get("securityContext") or {}
        psc = pod["spec"].get("securityContext") or {}
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        gid = sc.get("runAsGroup", psc.get("runAsGroup"))
        if uid is not None:
            args += ["--user", "%d%s" % (uid, ":%d" % gid if gid is not None else "")]
        fs_group = psc.get("fsGroup")
        if fs_group is not None:
            args += ["--group-add", str(int(fs_group))]
        if sc.get("readOnlyRootFilesystem"):
            args += ["--read-only"]  # podman still mounts tmpfs on /tmp, /var/tmp and /run
        command = [expand(a, env) for a in cspec.get("command") or []]
        cargs = [expand(a, env) for a in cspec.get("args") or []]
        if command:
            args += ["--entrypoint", json.dumps(command)]
        args.append(image)
        args += cargs
        r = _run(args)
        os.unlink(envfile)
        if r.returncode != 0:
            _run(["rm", "-f", "-t", "0", name])
            raise StartError("RunContainerError", (r.stderr.strip() or r.stdout.strip())[-1024:])
        h.id = r.stdout.strip().splitlines()[-1]
        with self.lock:
            self.containers.append(h)
        threading.Thread(target=self._wait, args=(h,), daemon=True).start()
        probe = cspec.get("readinessProbe")
        if probe and not ctx["init"]:
            threading.Thread(target=self._probe, args=(h, probe, cspec), daemon=True).start()
        else:
            h.ready = True
        live = cspec.get("livenessProbe")
        if live and not ctx["init"]:
            threading.Thread(target=self._liveness, args=(h, live, cspec), daemon=True).start()
        return h

    def _kick(self):
        if self.manager is not None:
            self.manager.kick()

    def _wait(self, h):
        r = _run(["wait", h.id], timeout=None)
        code = None
        for line in reversed(r.stdout.strip().splitlines()):
            if line.strip().lstrip("-").isdigit():
                code = int(line.strip())
                break
        if code is None:
            code = 137 if h.removed else 1
        h.exit_code = code
        h.stop.set()
        self._kick()

    @staticmethod
    def _check(h, probe, cspec):
        """One run of a probe: True when it passes."""
        timeout = max(2.0, float(probe.get("timeoutSeconds", 1)))
        try:
            if probe.get("exec"):
                return _run(["exec", h.id, *probe["exec"].get("command", [])], timeout=30).returncode == 0
            if probe.get("tcpSocket"):
                with socket.create_connection(("127.0.0.1", probe_port(cspec, probe["tcpSocket"].get("port"))), timeout=timeout):
                    return True
            if probe.get("httpGet"):
                g = probe["httpGet"]
                url = "http://127.0.0.1:%d%s" % (probe_port(cspec, g.get("port")), g.get("path", "/"))
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    return 200 <= resp.status < 400
        except (OSError, ValueError, subprocess.SubprocessError):
            return False
        return False

    def _liveness(self, h, probe, cspec):
        # The real period (not capped like readiness's): a slow answer on a loaded machine must not
        # kill a healthy container sooner than a kubelet would.
        delay = float(probe.get("initialDelaySeconds", 0))
        period = float(probe.get("periodSeconds", 10))
        threshold = max(1, int(probe.get("failureThreshold", 3)))
        failures = 0
        if h.stop.wait(delay):
            return
        while not h.stop.is_set():
            failures = 0 if self._check(h, probe, cspec) else failures + 1
            if failures >= threshold and not h.stop.is_set():
                sys.stderr.write("kubeapi: container %s failed its liveness probe %d times: killed\n" % (h.name, failures))
                _run(["kill", h.id])
                return
            h.stop.wait(period)

    def _probe(self, h, probe, cspec):
        delay = float(probe.get("initialDelaySeconds", 0))
        period = min(1.0, float(probe.get("periodSeconds", 10)))
        if h.stop.wait(delay):
            return
        while not h.stop.is_set():
            ok = self._check(h, probe, cspec)
            if ok != h.ready:
                h.ready = ok
                self._kick()
            h.stop.wait(period)

    def poll(self, h, manager):
        if h.exit_code is not None:
            try:
                with open(h.term_file) as f:
                    msg = f.read()
            except OSError:
                msg = ""
            return ("exited", h.exit_code, msg)
        return ("running", h.ready)

    def logs(self, h):
        if h.removed or h.id is None:
            return ""
        r = subprocess.run(["podman", "logs", h.id], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        return r.stdout if r.returncode == 0 else ""

    def container_id(self, h):
        return "podman://" + (h.id or "")

    def image_id(self, h):
        return h.image_id

    def remove(self, h):
        if h.removed:
            return
        h.removed = True
        h.stop.set()
        _run(["rm", "-f", "-t", "2", h.id or h.name])
        with self.lock:
            if h in self.containers:
                self.containers.remove(h)
        shutil.rmtree(os.path.join(self.root, "containers", h.name), ignore_errors=True)

    def pod_gone(self, uid):
        tok = self.tokens.pop(uid, None)
        if tok and self.cluster and self.cluster.get("revoke"):
            self.cluster["revoke"](tok)
        shutil.rmtree(os.path.join(self.root, "pods", uid), ignore_errors=True)

    def shutdown(self):
        with self.lock:
            left = list(self.containers)
        for h in left:
            h.removed = True
            h.stop.set()
        # Everything this instance started, by its label (a crashed remove left nothing behind).
        ids = _run(["ps", "-aq", "--filter", "label=%s=%s" % (LABEL, self.instance)]).stdout.split()
        if ids:
            r = _run(["rm", "-f", "-t", "2", *ids])
            if r.returncode != 0:
                sys.stderr.write("kubeapi: podman rm failed: %s\n" % r.stderr)
        shutil.rmtree(self.root, ignore_errors=True)


def probe_port(cspec, port):
    """A probe's port: a number, or the name of one of the container's ports (as the kubelet
    resolves `port: health`)."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in cspec.get("ports") or []:
        if p.get("name") == port and p.get("containerPort") is not None:
            return int(p["containerPort"])
    raise ValueError("container %s has no port named %r" % (cspec.get("name"), port))


def expand(s, env):
    """The kubelet's $(VAR) expansion: $(VAR) from env, $$ escapes, unknown references kept."""
    if not isinstance(s, str) or "$" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s.startswith("$$", i):
            out.append("$")
            i += 2
        elif s.startswith("$(", i) and ")" in s[i + 2:]:
            j = s.index(")", i + 2)
            name = s[i + 2:j]
            out.append(env[name] if name in env else s[i:j + 1])
            i = j + 1
        else:
            out.append(s[i])
            i += 1
    return "".join(out)
