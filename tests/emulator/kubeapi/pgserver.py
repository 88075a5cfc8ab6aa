# A throwaway PostgreSQL 15 server for the emulator's podman-kubelet tests (the Python twin of
# tests/support/pg_server.h): initdb into a temp folder (as the postgres user when run as root),
# postgres on 127.0.0.1 and a free port with a random password, ready when pg_isready says so
# (polled with a deadline, never a fixed sleep); stop() shuts it down and removes the folder.
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("SU_PG_BINDIR", "/usr/lib/postgresql/15/bin")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="kubeemu-pg-")
        self.data = os.path.join(self.root, "data")
        self.password = "pw-" + secrets.token_hex(10)
        self.preexec = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

            def drop():
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            self.preexec = drop
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        r = subprocess.run([BIN + "/initdb", "-D", self.data, "-U", "postgres", "--pwfile=" + pwfile, "--auth-local=trust",
                            "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                           capture_output=True, text=True, preexec_fn=self.preexec)
        if r.returncode != 0:
            raise RuntimeError("initdb failed: %s%s" % (r.stdout, r.stderr))
        self.port = _free_port()
        self.log = open(os.path.join(self.root, "server.log"), "w")
        self.proc = subprocess.Popen([BIN + "/postgres", "-D", self.data, "-p", str(self.port), "-k", self.root,
                                      "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                                      "-c", "full_page_writes=off"], stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=self.preexec)
        deadline = time.monotonic() + 60
        while subprocess.run([BIN + "/pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"],
                             capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("postgres did not become ready")
            time.sleep(0.05)

    def dsn(self, db="postgres"):
        return "postgres://postgres:%s@127.0.0.1:%d/%s?sslmode=disable" % (self.password, self.port, db)

    def psql(self, sql, db="postgres"):
        r = subprocess.run([BIN + "/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
                            "-tAX", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True,
                           env=dict(os.environ, PGPASSWORD=self.password))
        if r.returncode != 0:
            raise RuntimeError("psql failed: %s" % r.stderr)
        return r.stdout.strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
