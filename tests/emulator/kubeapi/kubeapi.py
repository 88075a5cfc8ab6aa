#!/usr/bin/python3
# kubeapi.py: a Kubernetes API server emulator for tests (Python 3 standard library only).
#
#   tests/emulator/kubeapi/kubeapi.py --dir DIR [--port 0] [--host 127.0.0.1] [--persist]
#       [--watch-history N] [--bookmark-interval SECONDS] [--identity NAME=USER]...
#
# At start it generates (or, when DIR already holds them, reuses) a CA, a serving certificate for
# 127.0.0.1/localhost, a client certificate and a bearer token, then listens with TLS and writes
# into DIR:  ca.crt  token  client.crt client.key  kubeconfig (token auth)  kubeconfig-cert
# (client-certificate auth)  port, and token-NAME / kubeconfig-NAME per --identity (requests with
# those tokens are authorized by the stored RBAC objects; the others are system:masters). When it is ready to serve it prints one line
# "kubeapi ready port=<port> kubeconfig=<DIR>/kubeconfig" on stdout. SIGTERM/SIGINT stop it cleanly
# (open watches end, --persist saves DIR/state.json, which the next start with the same DIR loads).
# Test hooks (authenticated): POST /emulator/compact (older resourceVersions get 410 Gone),
# POST /emulator/close-watches (every open watch ends, as on a dropped connection),
# POST /emulator/fail?code=500&count=N[&retryAfter=S] (the next N resource requests get that error),
# POST /emulator/images {"rules": [...]} (the simulated kubelet's image behaviors: kubelet_sim.py).
# Controllers (controllers.py: Deployment, ReplicaSet, StatefulSet, Job, TTL, garbage collector)
# and a kubelet (simulated, or --kubelet podman) run unless --no-controllers.
# What it emulates and what it does not: README.md next to this file.
import argparse
import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import discovery  # noqa: E402
import protobuf  # noqa: E402
import rbac  # noqa: E402
import subresources  # noqa: E402
from store import ApiError, Store, bad_request  # noqa: E402

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": None,
}


# -- certificates and kubeconfig ---------------------------------------------------------------

def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_credentials(d):
    """CA, server and client certificates and a token in d (kept when already there)."""
    if all(os.path.exists(os.path.join(d, f)) for f in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key", "token")):
        return
    p = lambda f: os.path.join(d, f)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3650", "-subj", "/CN=kubeemu-ca",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subj, ext in (("server", "/CN=kubeemu", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature"),
                            ("client", "/O=system:masters/CN=kubeemu-admin", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature")):
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", subj)
        with open(p(name + ".ext"), "w") as f:
            f.write(ext + "\n")
        _openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
                 "-CAcreateserial", "-out", p(name + ".crt"), "-days", "3650", "-extfile", p(name + ".ext"))
    with open(p("token"), "w") as f:
        f.write(base64.b32encode(os.urandom(20)).decode().lower() + "\n")


def identity_tokens(d, identities):
    """{token: user} for --identity NAME=USER, each token kept in DIR/token-NAME."""
    out = {}
    for spec in identities:
        name, user = spec.split("=", 1)
        path = os.path.join(d, "token-" + name)
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(base64.b32encode(os.urandom(20)).decode().lower() + "\n")
        with open(path) as f:
            out[f.read().strip()] = user
    return out


def write_kubeconfig(d, host, port, identities=()):
    ca = base64.b64encode(open(os.path.join(d, "ca.crt"), "rb").read()).decode()
    token = open(os.path.join(d, "token")).read().strip()
    server = "https://%s:%d" % (host if ":" not in host else "[%s]" % host, port)
    common = ("apiVersion: v1\nkind: Config\nclusters:\n- name: kubeemu\n  cluster:\n    server: %s\n"
              "    certificate-authority-data: %s\ncontexts:\n- name: kubeemu\n  context:\n    cluster: kubeemu\n"
              "    user: %%s\n    namespace: default\ncurrent-context: kubeemu\nusers:\n" % (server, ca))
    cfgs = {
        "kubeconfig": common % "kubeemu-token" + "- name: kubeemu-token\n  user:\n    token: %s\n" % token,
        "kubeconfig-cert": common % "kubeemu-cert" + "- name: kubeemu-cert\n  user:\n    client-certificate: %s\n    client-key: %s\n" % (
            os.path.join(d, "client.crt"), os.path.join(d, "client.key")),
    }
    for spec in identities:
        name = spec.split("=", 1)[0]
        with open(os.path.join(d, "token-" + name)) as f:
            cfgs["kubeconfig-" + name] = common % name + "- name: %s\n  user:\n    token: %s\n" % (name, f.read().strip())
    for name, text in cfgs.items():
        tmp = os.path.join(d, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, os.path.join(d, name))


# -- selectors ---------------------------------------------------------------------------------

def _split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return [x.strip() for x in out if x.strip()]


def label_matcher(sel):
    if not sel:
        return None
    reqs = []
    for r in _split_top(sel):
        if " notin " in r or " in " in r:
            notin = " notin " in r
            k, vals = r.split(" notin " if notin else " in ", 1)
            vals = {v.strip() for v in vals.strip().strip("()").split(",")}
            reqs.append((lambda L, k=k.strip(), vals=vals, notin=notin: (L.get(k) not in vals) if notin else (L.get(k) in vals)))
        elif "!=" in r:
            k, v = r.split("!=", 1)
            reqs.append(lambda L, k=k.strip(), v=v.strip(): L.get(k) != v)
        elif "==" in r or "=" in r:
            k, v = r.split("==", 1) if "==" in r else r.split("=", 1)
            reqs.append(lambda L, k=k.strip(), v=v.strip(): L.get(k) == v)
        elif r.startswith("!"):
            reqs.append(lambda L, k=r[1:].strip(): k not in L)
        else:
            reqs.append(lambda L, k=r: k in L)
    return lambda o: all(q((o.get("metadata") or {}).get("labels") or {}) for q in reqs)


def _field(o, path):
    cur = o
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    return cur if isinstance(cur, str) else json.dumps(cur)


def field_matcher(sel):
    if not sel:
        return None
    reqs = []
    for r in _split_top(sel):
        if "!=" in r:
            k, v = r.split("!=", 1)
            reqs.append((k.strip(), v.strip(), False))
        else:
            k, v = r.split("==", 1) if "==" in r else r.split("=", 1)
            reqs.append((k.strip(), v.strip(), True))
    return lambda o: all((_field(o, k) == v) == eq for k, v, eq in reqs)


def matcher(q):
    ls, fs = label_matcher(q.get("labelSelector")), field_matcher(q.get("fieldSelector"))
    if not ls and not fs:
        return None
    return lambda o: (not ls or ls(o)) and (not fs or fs(o))


# -- HTTP --------------------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, store, token, ctx, opts, identities):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, handler)
        self.store, self.token, self.ctx, self.opts = store, token, ctx, opts
        self.identities = identities  # token -> user name (RBAC-checked)
        self.controllers = None       # controllers.Manager, unless --no-controllers
        self.failures = []            # injected (code, retryAfter) answers for the next resource requests
        self.fail_lock = threading.Lock()

    def get_request(self):
        sock, addr = self.socket.accept()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            tls = self.ctx.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(tls, client_address, self)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubeemu"

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("kubeapi: %s\n" % (fmt % args))

    # -- responses ---------------------------------------------------------------------------
    def _send(self, code, body, content_type="application/json", warnings=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for w in warnings:
            self.send_header("Warning", '299 - "%s"' % w.replace('"', '\\"'))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, e):
        self._send(e.code, e.status())

    def _body(self):
        """The request body, read once per request (later calls return it again)."""
        if self._raw_body is not None:
            return self._raw_body
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
        self._raw_body = raw
        return raw

    def parse_request(self):
        self._raw_body = None  # a new request on this connection: its body is not read yet
        self._parsed = False   # until its headers are: send_response must not read a body then
        self._parsed = super().parse_request()
        return self._parsed

    def send_response(self, code, message=None):
        # Every answer first consumes the request's body, also when the request is refused before
        # the handler read it (401, 405, 415, a 404 path...): left unread on a kept-alive
        # connection, it would be parsed as the next request line (501 for the next request).
        if getattr(self, "_parsed", False):
            try:
                self._body()
            except (ValueError, OSError):
                self.close_connection = True
        super().send_response(code, message)

    def _json_body(self, raw, allow_yaml=False):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(raw)
            except (protobuf.ProtobufError, UnicodeDecodeError, IndexError) as e:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - %s" % e)
        try:
            return json.loads(raw.decode() or "null")
        except (ValueError, UnicodeDecodeError) as e:
            if allow_yaml:
                try:
                    import yaml  # optional: apply bodies are JSON from kubectl and client libraries
                    return yaml.safe_load(raw.decode())
                except Exception:
                    pass
            raise bad_request("the body of the request could not be decoded as JSON: %s" % e)

    def _authenticate(self):
        """(user, is_master) for the request's credentials, or None."""
        auth = self.headers.get("Authorization", "")
        if auth == "Bearer " + self.server.token:
            return ("kubeemu-admin", True)
        if auth.startswith("Bearer ") and auth[7:] in self.server.identities:
            return (self.server.identities[auth[7:]], False)
        try:
            if self.connection.getpeercert():
                return ("kubeemu-admin", True)
        except (AttributeError, ValueError):
            pass
        return None

    # -- dispatch ----------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        try:
            url = urllib.parse.urlsplit(self.path)
            q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
            path = url.path.rstrip("/") or "/"
            if path in ("/healthz", "/livez", "/readyz"):
                return self._send(200, b"ok", "text/plain; charset=utf-8")
            if path == "/version":
                return self._send(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubeemu",
                                        "gitCommit": "0000000000000000000000000000000000000000",
                                        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                                        "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"})
            self.user = self._authenticate()
            if self.user is None:
                return self._send(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                        "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
            if path.startswith("/emulator/") and self.user[1]:
                return self._admin(path)
            if path.startswith("/openapi"):
                return self._openapi(path)
            parts = path.strip("/").split("/")
            if parts[0] == "api":
                return self._api(parts[1:], q, core=True)
            if parts[0] == "apis":
                return self._api(parts[1:], q, core=False)
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _admin(self, path):
        st = self.server.store
        if path == "/emulator/compact" and self.command == "POST":
            st.compact()
            return self._send(200, {"resourceVersion": str(st.rv)})
        if path == "/emulator/close-watches" and self.command == "POST":
            st.end_watches()
            return self._send(200, {"resourceVersion": str(st.rv)})
        if path == "/emulator/fail" and self.command == "POST":
            q = {k: v[-1] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).items()}
            try:
                code, count = int(q.get("code", "500")), int(q.get("count", "1"))
            except ValueError:
                raise bad_request("code and count must be integers")
            with self.server.fail_lock:
                self.server.failures = [(code, q.get("retryAfter"))] * count
            return self._send(200, {"failing": count, "code": code})
        if path == "/emulator/images" and self.command == "POST":
            runtime = getattr(getattr(self.server.controllers, "kubelet", None), "runtime", None)
            if not hasattr(runtime, "set_rules"):
                raise bad_request("image rules need the simulated kubelet")
            body = self._json_body(self._body()) or {}
            try:
                runtime.set_rules(body.get("rules") or [])
            except (ValueError, TypeError) as e:
                raise bad_request("bad image rule: %s" % e)
            return self._send(200, {"rules": runtime.rules})
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _openapi(self, path):
        types = self.server.store.types
        if path == "/openapi/v2":
            accept = self.headers.get("Accept", "")
            if "json" not in accept and "*/*" not in accept and accept:
                raise ApiError(406, "NotAcceptable", "only application/json is served for /openapi/v2 by this emulator")
            return self._send(200, discovery.openapi_v2(types))
        if path == "/openapi/v3":
            return self._send(200, discovery.openapi_v3_root(types))
        rest = path[len("/openapi/v3/"):].split("/")
        if rest[0] == "api" and rest[1:] == ["v1"]:
            return self._send(200, discovery.openapi_v3_gv(types, "", "v1"))
        if rest[0] == "apis" and len(rest) == 3 and any(t.group == rest[1] and t.version == rest[2] for t in types):
            return self._send(200, discovery.openapi_v3_gv(types, rest[1], rest[2]))
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _api(self, parts, q, core):
        st = self.server.store
        accept = self.headers.get("Accept", "")
        if core:
            if not parts:
                if "g=apidiscovery.k8s.io" in accept:
                    return self._aggregated(True, accept)
                host = self.headers.get("Host", "127.0.0.1")
                return self._send(200, discovery.api_versions(host))
            group, version, rest = "", parts[0], parts[1:]
            if version != "v1":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        else:
            if not parts:
                if "g=apidiscovery.k8s.io" in accept:
                    return self._aggregated(False, accept)
                return self._send(200, discovery.api_group_list(st.types))
            group = parts[0]
            versions = discovery.group_versions(st.types).get(group)
            if not versions:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if len(parts) == 1:
                return self._send(200, dict(discovery.api_group(group, versions), kind="APIGroup", apiVersion="v1"))
            version, rest = parts[1], parts[2:]
            if version not in versions:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self._send(200, discovery.resource_list(st.types, group, version))
        # Resource paths.
        ns = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        t = st.find_type(group, version, rest[0])
        if t is None or (ns and not t.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (sub and not ((sub == "status" and t.status) or (sub == "log" and t.kind == "Pod" and t.group == "") or (sub == "scale" and discovery.scalable(t)))):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if t.namespaced and name and not ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self._resource(t, ns, name, sub, q)

    def _aggregated(self, core, accept):
        # v2 when the client accepts it (kubectl 1.32 lists v2 first), else v2beta1.
        v = "v2" if re.search(r"v=v2(;|,|$)", accept) else "v2beta1"
        doc = discovery.aggregated(self.server.store.types, core, "apidiscovery.k8s.io/" + v)
        return self._send(200, doc, "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList" % v)

    def _manager(self, q):
        if q.get("fieldManager"):
            return q["fieldManager"]
        ua = self.headers.get("User-Agent", "")
        return ua.split("/")[0] if ua else "unknown"

    def _verb(self, name, q):
        m = self.command
        if m in ("GET", "HEAD"):
            return "get" if name else ("watch" if q.get("watch") in ("1", "true", "True") else "list")
        if m == "DELETE" and not name:
            return "deletecollection"
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(m, m.lower())

    def _injected_failure(self):
        with self.server.fail_lock:
            if not self.server.failures:
                return False
            code, retry_after = self.server.failures.pop(0)
        reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": code,
                "message": "injected failure (POST /emulator/fail)", "reason": reasons.get(code, "InternalError")}
        if retry_after:
            body["details"] = {"retryAfterSeconds": int(retry_after)}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(data)
        return True

    def _resource(self, t, ns, name, sub, q):
        st = self.server.store
        if self._injected_failure():
            return
        m = self.command
        user, master = self.user
        if not master:
            verb, res = self._verb(name, q), t.resource + ("/" + sub if sub else "")
            if not rbac.allowed(st, user, verb, t.group, res, ns, name):
                raise rbac.forbidden(user, verb, t, res, ns, name)
        if sub == "log":
            return self._logs(t, ns, name, q)
        if sub == "scale":
            return self._scale(t, ns, name, q)
        dry = q.get("dryRun") == "All"
        fv = q.get("fieldValidation") or "Warn"
        if fv not in ("Ignore", "Warn", "Strict"):
            raise bad_request('fieldValidation must be one of "Ignore", "Warn", or "Strict"')
        warnings = []
        if m in ("GET", "HEAD"):
            if name:
                obj = st.get(t, ns, name)
                return self._send(200, self._maybe_table(t, [obj], str(obj["metadata"]["resourceVersion"]), q) or obj)
            if q.get("watch") in ("1", "true", "True"):
                return self._watch(t, ns, q)
            return self._list(t, ns, q)
        if m == "POST":
            if name:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            body = self._json_body(self._body())
            obj = st.create(t, ns, body, self._manager(q), dry, fv, warnings)
            return self._send(201, obj, warnings=warnings)
        if not name:
            if m == "DELETE":
                return self._delete_collection(t, ns, q, dry)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if m == "PUT":
            body = self._json_body(self._body())
            obj = st.update(t, ns, name, body, self._manager(q), sub, dry, fv, warnings)
            return self._send(200, obj, warnings=warnings)
        if m == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            ptype = PATCH_TYPES.get(ctype)
            if ptype is None:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            body = self._json_body(self._body(), allow_yaml=(ptype == "apply"))
            manager = q.get("fieldManager") if ptype == "apply" else self._manager(q)
            force = q.get("force") in ("true", "1")
            if force and ptype != "apply":
                raise bad_request("force flag is only allowed for apply requests")
            with st.lock:  # an apply that creates the object answers 201
                existed = st.exists(t, ns, name)
                obj = st.patch(t, ns, name, ptype, body, manager, sub, dry, fv, warnings, force)
            return self._send(200 if existed else 201, obj, warnings=warnings)
        if m == "DELETE":
            raw = self._body()
            opts = self._json_body(raw) if raw.strip() else {}
            pre = (opts or {}).get("preconditions")
            if (opts or {}).get("dryRun") == ["All"]:
                dry = True
            obj = st.delete(t, ns, name, dry, pre)
            return self._send(200, obj)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _logs(self, t, ns, name, q):
        text = subresources.logs(self.server.store, self.server.controllers, t, ns, name, self.command, q)
        return self._send(200, text.encode(), "text/plain")

    def _scale(self, t, ns, name, q):
        method, body, ptype = self.command, None, None
        if method in ("PUT", "PATCH"):
            ptype = PATCH_TYPES.get((self.headers.get("Content-Type") or "").split(";")[0].strip())
            body = self._json_body(self._body())
        return self._send(200, subresources.scale(self.server.store, t, ns, name, method, body, ptype,
                                                  self._manager(q), q.get("dryRun") == "All"))

    def _delete_collection(self, t, ns, q, dry):
        st = self.server.store
        objs, rv = st.list(t, ns, matcher(q))
        deleted = []
        for o in objs:
            try:
                deleted.append(st.delete(t, o["metadata"].get("namespace", ""), o["metadata"]["name"], dry))
            except ApiError:
                pass
        return self._send(200, {"kind": t.list_kind, "apiVersion": t.api_version, "metadata": {"resourceVersion": str(st.rv)}, "items": deleted})

    def _maybe_table(self, t, objs, rv, q, cont=None):
        accept = self.headers.get("Accept", "")
        first = accept.split(",")[0]
        if "as=Table" in first and "g=meta.k8s.io" in first:
            return discovery.table(t, objs, rv, q.get("includeObject", "Metadata"), cont)
        return None

    def _list(self, t, ns, q):
        st = self.server.store
        objs, rv = st.list(t, ns, matcher(q))
        limit = int(q.get("limit") or 0)
        cont = None
        if q.get("continue"):
            try:
                tok = json.loads(base64.urlsafe_b64decode(q["continue"] + "==").decode())
                start, crv = tok["start"], tok["rv"]
            except (ValueError, KeyError):
                raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            if int(crv) < st.floor:
                raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
            objs = [o for o in objs if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > tuple(start)]
        remaining = None
        if limit and len(objs) > limit:
            last = objs[limit - 1]["metadata"]
            remaining = len(objs) - limit
            objs = objs[:limit]
            cont = base64.urlsafe_b64encode(json.dumps({"start": [last.get("namespace", ""), last["name"]], "rv": rv}).encode()).decode().rstrip("=")
        table = self._maybe_table(t, objs, rv, q, cont=cont)
        if table:
            return self._send(200, table)
        meta = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        return self._send(200, {"kind": t.list_kind, "apiVersion": t.api_version, "metadata": meta, "items": objs})

    # -- watch -------------------------------------------------------------------------------
    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, t, ns, q):
        st = self.server.store
        opts = self.server.opts
        match = matcher(q)
        as_table = self._maybe_table(t, [], "0", q) is not None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        timeout = float(q.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        rv_param = q.get("resourceVersion", "")
        send_initial = q.get("sendInitialEvents") in ("true", "1")
        skey = st.skey(t)

        def visible(o):
            if t.namespaced and ns and o["metadata"].get("namespace") != ns:
                return False
            return match is None or match(o)

        def render(o):
            if as_table:
                return discovery.table(t, [o], o["metadata"]["resourceVersion"], q.get("includeObject", "Metadata"))
            return o

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        # The connection ends with the watch: say so, or a client pools it, reuses it for its next
        # request and, when our close lands first (a loaded machine), gets no response at all.
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def emit(typ, o):
            self._chunk(json.dumps({"type": typ, "object": o}).encode() + b"\n")

        with st.lock:
            epoch = st.watch_epoch
            if rv_param in ("", "0") or send_initial:
                initial, _ = st.list(t, ns, match)
                pending = [("ADDED", render(o)) for o in initial]
                start = st.rv
                if send_initial and bookmarks:
                    pending.append(("BOOKMARK", {"kind": t.kind, "apiVersion": t.api_version, "metadata": {
                        "resourceVersion": str(st.rv), "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                try:
                    start = int(rv_param)
                except ValueError:
                    start = -1
                if start < st.floor:
                    pending = [("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                          "message": "too old resource version: %s (%d)" % (rv_param, st.floor + 1),
                                          "reason": "Expired", "code": 410})]
                    start = None
                else:
                    pending = []
        try:
            for typ, o in pending:
                emit(typ, o)
            if start is None:
                self._chunk(b"")
                return
            last = start
            last_bookmark = time.monotonic()
            while True:
                with st.lock:
                    while True:
                        if st.stopping or st.watch_epoch != epoch:
                            changes = None
                            break
                        if last < st.floor:
                            # The watcher fell behind the retained history: 410, as a real server
                            # ends a watch whose position was compacted away.
                            changes = "gone"
                            break
                        changes = [c for c in st.history if c.rv > last]
                        now = time.monotonic()
                        if changes or now >= deadline or (bookmarks and now - last_bookmark >= opts.bookmark_interval):
                            break
                        wait = deadline - now
                        if bookmarks:
                            wait = min(wait, opts.bookmark_interval - (now - last_bookmark))
                        st.cond.wait(max(0.01, wait))
                    current = st.rv
                if changes is None:
                    break
                if changes == "gone":
                    emit("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": "too old resource version: %d (%d)" % (last, st.floor + 1),
                                   "reason": "Expired", "code": 410})
                    break
                for c in changes:
                    last = c.rv
                    if c.key != skey:
                        continue
                    obj = st._out(t, c.obj)
                    old = st._out(t, c.old) if c.old else None
                    now_vis = visible(obj)
                    was_vis = old is not None and visible(old)
                    if c.type == "ADDED" and now_vis:
                        emit("ADDED", render(obj))
                    elif c.type == "DELETED" and (was_vis or now_vis):
                        emit("DELETED", render(obj))
                    elif c.type == "MODIFIED":
                        if now_vis and was_vis:
                            emit("MODIFIED", render(obj))
                        elif now_vis:
                            emit("ADDED", render(obj))
                        elif was_vis:
                            emit("DELETED", render(obj))
                if not changes:
                    last = max(last, current)
                now = time.monotonic()
                if bookmarks and now - last_bookmark >= opts.bookmark_interval:
                    emit("BOOKMARK", {"kind": t.kind, "apiVersion": t.api_version, "metadata": {"resourceVersion": str(max(last, current if not changes else last))}})
                    last_bookmark = now
                if now >= deadline:
                    break
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass


def main():
    ap = argparse.ArgumentParser(description="Kubernetes API server emulator for tests")
    ap.add_argument("--dir", required=True, help="folder for the CA, token, kubeconfig, port and state")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--persist", action="store_true", help="load DIR/state.json at start, save it on SIGTERM")
    ap.add_argument("--watch-history", type=int, default=1000, help="changes kept for watches (older: 410 Gone)")
    ap.add_argument("--bookmark-interval", type=float, default=10.0, help="seconds between watch bookmarks")
    ap.add_argument("--identity", action="append", default=[], metavar="NAME=USER",
                    help="an RBAC-checked identity (e.g. sa=system:serviceaccount:ns:name): DIR/token-NAME, DIR/kubeconfig-NAME")
    ap.add_argument("--verbose", action="store_true", help="log every request on stderr")
    ap.add_argument("--no-controllers", action="store_true", help="run no controllers and no kubelet (a bare API server)")
    ap.add_argument("--controllers", action="store_true", help="run the controllers and kubelet (the default; says so explicitly)")
    ap.add_argument("--kubelet", choices=("simulated", "podman"), default="simulated",
                    help="how pods run: simulated (image rules) or as podman containers")
    ap.add_argument("--image-behavior", action="append", default=[], metavar="REGEX=BEHAVIOR[:EXITCODE]",
                    help="simulated kubelet: images matching REGEX are ready|never-ready|exit|crash|missing|run")
    ap.add_argument("--crash-backoff", type=float, default=0.5, help="first crash-loop/image-pull back-off in seconds")
    opts = ap.parse_args()
    if opts.controllers and opts.no_controllers:
        ap.error("--controllers and --no-controllers exclude each other")
    os.makedirs(opts.dir, exist_ok=True)
    make_credentials(opts.dir)
    token = open(os.path.join(opts.dir, "token")).read().strip()
    store = Store(history=opts.watch_history)
    state_file = os.path.join(opts.dir, "state.json")
    if opts.persist and os.path.exists(state_file):
        with open(state_file) as f:
            store.load(json.load(f))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(opts.dir, "server.crt"), os.path.join(opts.dir, "server.key"))
    ctx.load_verify_locations(os.path.join(opts.dir, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    for spec in opts.identity:
        if "=" not in spec or not spec.split("=", 1)[0].replace("-", "").isalnum():
            ap.error("--identity takes NAME=USER with NAME of letters, digits and '-': %r" % spec)
    server = Server((opts.host, opts.port), Handler, store, token, ctx, opts, identity_tokens(opts.dir, opts.identity))
    port = server.server_address[1]
    write_kubeconfig(opts.dir, opts.host, port, opts.identity)
    with open(os.path.join(opts.dir, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.replace(os.path.join(opts.dir, "port.tmp"), os.path.join(opts.dir, "port"))

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not opts.no_controllers:
        import controllers
        import kubelet_sim
        try:
            rules = [kubelet_sim.parse_flag(r) for r in opts.image_behavior]
        except (ValueError, re.error) as e:
            ap.error(str(e))
        def mint(user):  # a service account token for a pod (RBAC-checked, like --identity)
            tok = base64.b32encode(os.urandom(20)).decode().lower()
            server.identities[tok] = user
            return tok
        cluster = {"mint": mint, "revoke": lambda tok: server.identities.pop(tok, None),
                   "ca": os.path.join(opts.dir, "ca.crt"), "port": port}
        server.controllers = controllers.build(store, opts.kubelet, rules, opts.crash_backoff,
                                               instance="%d-%d" % (os.getpid(), port), cluster=cluster,
                                               claims_dir=os.path.join(opts.dir, "claims")).start()
    print("kubeapi ready port=%d kubeconfig=%s" % (port, os.path.join(opts.dir, "kubeconfig")), flush=True)
    server.serve_forever(poll_interval=0.2)
    if server.controllers is not None:
        server.controllers.stop()
    with store.lock:
        store.stopping = True
        store.cond.notify_all()
    if opts.persist:
        tmp = state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(store.dump(), f)
        os.replace(tmp, state_file)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
