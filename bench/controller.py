#!/usr/bin/env python3
"""bench/controller.py: the controller with N SchemaUpgrades already at their target, on a throwaway
PostgreSQL, in the manifests-folder mode (the Podman hosts' mode, default) or watching the
Kubernetes API emulator (`--source kubernetes`, bench/kube_source.py). See bench/README.md
("Controller at scale") for what is measured and how to read it.

usage: bench/controller.py [--source folder|kubernetes] path/to/schema-upgrade
environment (all optional):
  BENCH_SOURCE=folder            the source when --source is not given
  BENCH_RESOURCES="1000 10000"   resource counts, one run each (kubernetes: "1000")
  BENCH_DATABASES=10             databases the resources are spread over (resource i -> db i % D)
  BENCH_RESYNC=20s               the controller's --resync
  BENCH_WINDOW=60                seconds of idle measurement (CPU, passes) after start-up
  BENCH_WORKERS=2                --workers
  BENCH_EXTRA_FLAGS=""           more controller flags (e.g. "--max-connections-per-database 1")
  BENCH_LOG_LEVEL=warn           the controller's SU_LOG_LEVEL (its log: <temp>/n<N>/controller.log, with BENCH_KEEP)
  BENCH_KEEP=1                   keep the temp folder
  SU_PG_BINDIR                   PostgreSQL server binaries (default: newest /usr/lib/postgresql/*/bin)

Prints one block per resource count; exit 0 unless the controller or the server failed.
The DSNs (random password) travel in environment variables only, never in argv or the output.
"""
import glob
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MIGRATIONS = 10


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    """A throwaway PostgreSQL 15: initdb, scram over 127.0.0.1, fsync off (the clients' cost)."""

    def __init__(self, work):
        self.bindir = os.environ.get("SU_PG_BINDIR") or sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        self.password = secrets.token_hex(16)
        self.as_pg = []
        if os.getuid() == 0:
            self.as_pg = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(work, 0o711)
        pw = os.path.join(self.dir, "pwfile")
        with open(pw, "w") as f:
            f.write(self.password + "\n")
        if self.as_pg:
            shutil.chown(pw, "postgres", "postgres")
        subprocess.run(self.as_pg + [self.bindir + "/initdb", "-D", self.dir + "/data", "-U", "postgres",
                                     "--pwfile=" + pw, "--auth-local=trust", "--auth-host=scram-sha-256",
                                     "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.remove(pw)
        self.port = free_port()
        self.log = open(os.path.join(work, "server.log"), "w")
        self.proc = subprocess.Popen(
            self.as_pg + [self.bindir + "/postgres", "-D", self.dir + "/data", "-p", str(self.port), "-k", self.dir,
                          "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=off",
                          "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(600):
            if subprocess.run([self.bindir + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit("bench: postgres did not start")

    def env(self, db="postgres"):
        e = dict(os.environ)
        e.update(PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER="postgres", PGPASSWORD=self.password, PGDATABASE=db)
        return e

    def dsn(self, db):
        return "postgresql://postgres:%s@127.0.0.1:%d/%s" % (self.password, self.port, db)

    def sql(self, q, db="postgres"):
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", q], env=self.env(db),
                           check=True, capture_output=True, text=True)
        return r.stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def manifest(name, env, path, target):
    return ("apiVersion: olympus.io/v1alpha1\nkind: SchemaUpgrade\nmetadata:\n  name: %s\n  namespace: bench\n"
            "spec:\n  targetVersion: \"%s\"\n  database:\n    dsnFrom:\n      env: %s\n"
            "  migrations:\n    engine: sql\n    path: %s\n  policy:\n    backup:\n      enabled: false\n"
            % (name, target, env, path))


def version(i):
    return "2026010100%04d" % i


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) / 1024.0
    return out


class Metrics:
    def __init__(self, port):
        self.url = "http://127.0.0.1:%d/metrics" % port

    def text(self):
        with urllib.request.urlopen(self.url, timeout=30) as r:
            return r.read().decode()

    def value(self, text, series):
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def succeeded(self, text):
        n = 0
        for line in text.splitlines():
            if line.startswith("schema_upgrade_phase{") and 'phase="Succeeded"' in line and line.endswith(" 1"):
                n += 1
        return n


class FolderSource:
    """The SchemaUpgrades as manifest files in one folder (the Podman hosts' mode)."""

    def __init__(self, work):
        self.root = None

    def name(self):
        return "folder"

    def bind(self, root):
        self.mdir = os.path.join(root, "manifests")
        self.state = os.path.join(root, "state")
        os.makedirs(self.mdir)

    def create(self, name, env, path, target):
        with open(os.path.join(self.mdir, "%s.yaml" % name), "w") as f:
            f.write(manifest(name, env, path, target))

    def controller_args(self, root):
        return ["--manifests", self.mdir]

    def controller_env(self, env):
        return env

    def emulator_pid(self):
        return None

    def count_succeeded(self):
        n = 0
        d = os.path.join(self.state, "status")
        try:
            names = os.listdir(d)
        except OSError:
            return 0
        for name in names:
            try:
                with open(os.path.join(d, name)) as f:
                    if '"phase":"Succeeded"' in f.read():
                        n += 1
            except OSError:
                pass
        return n

    def _status(self, name):
        try:
            with open(os.path.join(self.state, "status", "bench__%s.json" % name)) as f:
                return f.read()
        except OSError:
            return ""

    def edit(self, name, env, path, target):
        """Rewrites the manifest with a new targetVersion; returns (None: a status file has no
        generation to tell the first write of the new one, seconds to Succeeded at target)."""
        te = time.monotonic()
        self.create(name, env, path, target)
        while True:
            st = self._status(name)
            if '"Succeeded"' in st and re.search(r'"currentVersion":\s*"%s"' % target, st):
                return None, time.monotonic() - te
            if time.monotonic() - te > 600:
                raise SystemExit("bench: the edit did not succeed within 10 min")
            time.sleep(0.005)

    def close(self):
        pass


def run(binary, n, work, server, source):
    dbs = int(os.environ.get("BENCH_DATABASES", "10"))
    resync = os.environ.get("BENCH_RESYNC", "20s")
    window = float(os.environ.get("BENCH_WINDOW", "60"))
    workers = os.environ.get("BENCH_WORKERS", "2")
    extra = os.environ.get("BENCH_EXTRA_FLAGS", "").split()
    root = os.path.join(work, "n%d" % n)
    mig = os.path.join(root, "migrations")
    mig_edit = os.path.join(root, "migrations-edit")
    state = os.path.join(root, "state")
    for d in (mig, mig_edit, state):
        os.makedirs(d)
    if hasattr(source, "bind"):
        source.bind(root)
    for i in range(1, MIGRATIONS + 1):
        with open(os.path.join(mig, "%s_t%d.up.sql" % (version(i), i)), "w") as f:
            f.write("CREATE TABLE t%d (id bigint PRIMARY KEY, name text);\n" % i)
    with open(os.path.join(mig_edit, "%s_e1.up.sql" % version(1)), "w") as f:
        f.write("CREATE TABLE e1 (id int);\n")
    env = dict(os.environ)
    env["SU_LOG_LEVEL"] = os.environ.get("BENCH_LOG_LEVEL", "warn")
    env["SU_STATE_DIR"] = os.path.join(root, "apply-state")
    # The databases, brought to the target once with `apply` (the resources start at target).
    prep = os.path.join(root, "prep")
    os.makedirs(prep)
    for d in range(dbs):
        db = "bench_%d_%d" % (n, d)
        server.sql("CREATE DATABASE %s" % db)
        env["BENCH_DSN_%d" % d] = server.dsn(db)
        p = os.path.join(prep, "db%d.yaml" % d)
        with open(p, "w") as f:
            f.write(manifest("prep%d" % d, "BENCH_DSN_%d" % d, mig, version(MIGRATIONS)))
        subprocess.run([binary, "apply", "-f", p, "-q"], env=env, check=True)
    server.sql("CREATE DATABASE bench_%d_edit" % n)
    env["BENCH_DSN_EDIT"] = server.dsn("bench_%d_edit" % n)
    p = os.path.join(prep, "edit.yaml")
    with open(p, "w") as f:
        f.write(manifest("edit", "BENCH_DSN_EDIT", mig_edit, version(1)))
    subprocess.run([binary, "apply", "-f", p, "-q"], env=env, check=True)
    tc = time.monotonic()
    for i in range(n):
        source.create("r%05d" % i, "BENCH_DSN_%d" % (i % dbs), mig, version(MIGRATIONS))
    source.create("edit", "BENCH_DSN_EDIT", mig_edit, version(1))
    out = {"resources": n, "create_s": time.monotonic() - tc}
    total = n + 1

    mport = free_port()
    args = [binary, "controller"] + source.controller_args(root) + [
        "--state-dir", state, "--resync", resync, "--workers", workers, "--metrics-addr", "127.0.0.1:%d" % mport] + extra
    clog = open(os.path.join(root, "controller.log"), "w")
    epid = source.emulator_pid()
    e_start = proc_cpu(epid) if epid else 0.0
    t0 = time.monotonic()
    proc = subprocess.Popen(args, env=source.controller_env(env), stdout=clog, stderr=subprocess.STDOUT)
    m = Metrics(mport)
    try:
        # Start-up: every resource Succeeded (its first pass observes it at target).
        while True:
            if proc.poll() is not None:
                raise SystemExit("bench: the controller exited (%s)" % os.path.join(root, "controller.log"))
            # The status files (or one list of the objects), not /metrics: rendering 10,000 resources'
            # series twice a second would be measured as the controller's own cost.
            if source.count_succeeded() >= total:
                break
            if time.monotonic() - t0 > 1800:
                raise SystemExit("bench: not all Succeeded within 30 min")
            time.sleep(1 if epid is None else 3)
        out["startup_s"] = time.monotonic() - t0
        out["startup_cpu_s"] = proc_cpu(proc.pid)
        if epid:
            out["emu_startup_cpu_s"] = proc_cpu(epid) - e_start
        # Idle: only resyncs from now on. CPU and passes over the window.
        txt = m.text()
        c0, p0, w0 = proc_cpu(proc.pid), m.value(txt, "schema_upgrade_reconcile_duration_seconds_count"), time.monotonic()
        d0 = m.value(txt, "schema_upgrade_reconcile_duration_seconds_sum")
        a0 = api_requests(txt)
        e0 = proc_cpu(epid) if epid else 0.0
        r0 = m.value(txt, "schema_upgrade_db_round_trips")
        # RSS sampled twice a second over the window: it swings with the resync cycle (the work queue
        # fills, the listing's temporaries come and go, malloc_trim runs), so one reading is not a figure.
        samples = []
        until = time.monotonic() + window
        while time.monotonic() < until:
            samples.append(proc_mem(proc.pid).get("VmRSS", 0.0))
            time.sleep(min(0.5, max(0.0, until - time.monotonic())))
        out["rss_window"] = (max(samples), sum(samples) / len(samples), min(samples)) if samples else None
        txt = m.text()
        c1, p1, w1 = proc_cpu(proc.pid), m.value(txt, "schema_upgrade_reconcile_duration_seconds_count"), time.monotonic()
        d1 = m.value(txt, "schema_upgrade_reconcile_duration_seconds_sum")
        e1 = proc_cpu(epid) if epid else 0.0
        r1 = m.value(txt, "schema_upgrade_db_round_trips")
        # The round trips' metric is counted by the controller's libpq side (0 before it existed).
        out["trips_per_pass"] = (r1 - r0) / (p1 - p0) if p1 > p0 else float("nan")
        out["series"] = sum(1 for l in txt.splitlines() if l and not l.startswith("#"))
        out["idle_cpu_pct"] = 100.0 * (c1 - c0) / (w1 - w0)
        out["passes"] = p1 - p0
        out["cpu_per_pass_ms"] = 1000.0 * (c1 - c0) / (p1 - p0) if p1 > p0 else float("nan")
        out["wall_per_pass_ms"] = 1000.0 * (d1 - d0) / (p1 - p0) if p1 > p0 else float("nan")
        if epid:
            out["emu_cpu_pct"] = 100.0 * (e1 - e0) / (w1 - w0)
            out["emu_cpu_per_pass_ms"] = 1000.0 * (e1 - e0) / (p1 - p0) if p1 > p0 else float("nan")
            out["api_per_pass"] = {k: (v - a0.get(k, 0)) / (p1 - p0) if p1 > p0 else float("nan")
                                   for k, v in api_requests(txt).items() if v - a0.get(k, 0) > 0}
        out["mem"] = proc_mem(proc.pid)
        if os.environ.get("BENCH_SMAPS"):
            # Where the RSS is, mapping by mapping (for a memory investigation, not a figure).
            shutil.copyfile("/proc/%d/smaps" % proc.pid, os.environ["BENCH_SMAPS"])
        if epid:
            out["emu_mem"] = proc_mem(epid)
        try:
            out["sessions"] = int(server.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'schema-upgrade%'"))
        except subprocess.CalledProcessError as e:  # e.g. a loaded machine's connect timeout: keep the rest
            log("counting sessions failed: %s" % (e.stderr or "").strip())
            out["sessions"] = -1
        out["metrics_bytes"] = len(txt)
        # Edits: one while the queue is quiet, one while a resync round fills it.
        edits = []
        for k, busy in ((2, False), (3, True)):
            if busy:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and m.value(m.text(), "schema_upgrade_queue_depth") < min(n / 2, 500):
                    time.sleep(0.02)
            depth = m.value(m.text(), "schema_upgrade_queue_depth")
            with open(os.path.join(mig_edit, "%s_e%d.up.sql" % (version(k), k)), "w") as f:
                f.write("CREATE TABLE e%d (id int);\n" % k)
            first, ready = source.edit("edit", "BENCH_DSN_EDIT", mig_edit, version(k))
            edits.append((first, ready, depth))
        out["edits"] = edits
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out


def api_requests(text):
    """kube_api_requests_total by verb (all codes summed)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("schema_upgrade_kube_api_requests_total{"):
            verb = re.search(r'verb="([^"]*)"', line).group(1)
            out[verb] = out.get(verb, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def main():
    args = sys.argv[1:]
    source_kind = os.environ.get("BENCH_SOURCE", "folder")
    if len(args) == 3 and args[0] == "--source":
        source_kind, args = args[1], args[2:]
    elif len(args) == 2 and args[0].startswith("--source="):
        source_kind, args = args[0].split("=", 1)[1], args[1:]
    if len(args) != 1 or source_kind not in ("folder", "kubernetes"):
        raise SystemExit("usage: bench/controller.py [--source folder|kubernetes] path/to/schema-upgrade")
    binary = os.path.abspath(args[0])
    default_counts = "1000 10000" if source_kind == "folder" else "1000"
    counts = [int(x) for x in os.environ.get("BENCH_RESOURCES", default_counts).split()]
    work = tempfile.mkdtemp(prefix="su-bench-ctrl-")
    server = Server(work)
    head = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    print("controller benchmark: source %s, commit %s, resync %s, workers %s, %s databases, %d migrations at target, "
          "extra flags %r, load before %s" % (source_kind, head, os.environ.get("BENCH_RESYNC", "20s"),
                                              os.environ.get("BENCH_WORKERS", "2"), os.environ.get("BENCH_DATABASES", "10"),
                                              MIGRATIONS, os.environ.get("BENCH_EXTRA_FLAGS", ""),
                                              open("/proc/loadavg").read().split()[:3]))
    try:
        for n in counts:
            log("%d resources (%s)" % (n, source_kind))
            if source_kind == "kubernetes":
                from kube_source import KubeSource
                source = KubeSource(os.path.join(work, "k%d" % n))
            else:
                source = FolderSource(work)
            try:
                r = run(binary, n, work, server, source)
            finally:
                source.close()
            mem = r["mem"]
            print("resources %d: created in %.1f s; start->all Succeeded %.1f s (%.1f s CPU); idle: %.1f%% of a core, "
                  "%d passes in the window, %.2f ms CPU and %.2f ms wall per no-op pass; RSS %.1f MB (anon %.1f, "
                  "file %.1f, peak %.1f); PostgreSQL sessions at idle %d; /metrics %d KB (%d series); %.2f "
                  "database round trips per pass"
                  % (n, r["create_s"], r["startup_s"], r["startup_cpu_s"], r["idle_cpu_pct"], r["passes"],
                     r["cpu_per_pass_ms"], r["wall_per_pass_ms"], mem.get("VmRSS", 0), mem.get("RssAnon", 0),
                     mem.get("RssFile", 0), mem.get("VmHWM", 0), r["sessions"], r["metrics_bytes"] // 1024,
                     r["series"], r["trips_per_pass"]))
            if r.get("rss_window"):
                print("resources %d: RSS over the idle window (sampled every 0.5 s): max %.1f MB, mean %.1f, min %.1f"
                      % ((n,) + r["rss_window"]))
            if "emu_cpu_pct" in r:
                em = r["emu_mem"]
                print("resources %d: emulator (python3): %.1f s CPU during start-up; idle: %.1f%% of a core, %.2f ms "
                      "CPU per controller pass; RSS %.1f MB; API requests per pass: %s"
                      % (n, r["emu_startup_cpu_s"], r["emu_cpu_pct"], r["emu_cpu_per_pass_ms"], em.get("VmRSS", 0),
                         ", ".join("%s %.2f" % kv for kv in sorted(r["api_per_pass"].items())) or "none"))
            for (first, secs, depth), what in zip(r["edits"], ("quiet queue", "during a resync")):
                print("resources %d: spec edit -> %sSucceeded/Ready %.2f s (%s, queue depth %d at the edit)"
                      % (n, "" if first is None else "first status of the new generation %.2f s, " % first,
                         secs, what, depth))
            sys.stdout.flush()
    finally:
        server.stop()
        if os.environ.get("BENCH_KEEP"):
            log("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("load after %s" % open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
