# images/build-local.sh (make image) against the real podman and the binary ctest built: the image
# it imports runs as the Containerfile's does (entrypoint, CMD, user 65532, SU_PG_BINDIR /
# SU_STATE_DIR), holds every library the binary and the PostgreSQL tools link, has a state dir the
# non-root user owns, runs with a read-only root filesystem, and a second run with the same inputs
# rebuilds nothing. (tests/e2e/controller_pod runs it as the controller's pod.)
import os
import subprocess
import unittest

SOURCE_DIR = os.environ.get("SU_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(SOURCE_DIR, "images", "build-local.sh")
PG_BINDIR = "/usr/lib/postgresql/15/bin"


def env():
    e = dict(os.environ)
    if not e.get("CONTAINERS_CONF"):
        for c in ("tests/fixtures/podman/containers.conf", "tests/fixtures/images/containers.conf"):
            if os.path.exists(os.path.join(SOURCE_DIR, c)):
                e["CONTAINERS_CONF"] = os.path.join(SOURCE_DIR, c)
                break
    return e


def podman(*args, check=True):
    r = subprocess.run(["podman", *args], capture_output=True, text=True, env=env(), timeout=300)
    if check and r.returncode != 0:
        raise AssertionError("podman %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def build():
    r = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, env=env(), timeout=600)
    if r.returncode != 0:
        raise AssertionError("build-local.sh failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    return r


def libraries(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
            libs.append(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


class LocalImageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.environ.get("SU_BINARY"):
            raise RuntimeError("SU_BINARY is not set (ctest sets it to the built schema-upgrade)")
        first = build()
        cls.image = first.stdout.strip().splitlines()[-1]
        cls.second = build()

    def test_prints_the_versioned_reference_and_tags_dev(self):
        version = subprocess.run([os.environ["SU_BINARY"], "version"], capture_output=True, text=True).stdout.split()[-1]
        self.assertEqual(self.image, "localhost/schema-upgrade:" + version)
        same = podman("image", "inspect", "--format", "{{.Id}}", self.image, "localhost/schema-upgrade:dev").stdout.split()
        self.assertEqual(len(set(same)), 1, "the :dev tag names the same image")

    def test_a_second_run_with_the_same_inputs_rebuilds_nothing(self):
        self.assertEqual(self.second.stdout.strip(), self.image)
        self.assertIn("up to date: " + self.image, self.second.stderr)
        self.assertNotIn("building:", self.second.stderr)

    def test_config_matches_the_containerfile_image(self):
        fmt = "{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.Env}}"
        user, entrypoint, cmd, environ = podman("image", "inspect", "--format", fmt, self.image).stdout.strip().split("|")
        self.assertEqual(user, "65532:65532")
        self.assertEqual(entrypoint, '["/usr/local/bin/schema-upgrade"]')
        self.assertEqual(cmd, '["controller","--kubernetes"]')
        self.assertIn("SU_PG_BINDIR=" + PG_BINDIR, environ)
        self.assertIn("SU_STATE_DIR=/var/lib/schema-upgrade", environ)
        label = podman("image", "inspect", "--format", '{{ index .Labels "io.schema-upgrade.build-hash" }}', self.image).stdout
        self.assertRegex(label.strip(), "^[0-9a-f]{64}$")

    def test_runs_non_root_with_a_read_only_root_and_every_tool_starts(self):
        out = podman("run", "--rm", "--read-only", "--network", "none", self.image, "version").stdout
        self.assertIn("schema-upgrade", out)
        for tool in ("pg_dump", "pg_restore", "psql"):
            out = podman("run", "--rm", "--read-only", "--network", "none", "--entrypoint", PG_BINDIR + "/" + tool,
                         self.image, "--version").stdout
            self.assertIn("PostgreSQL", out, tool)

    def test_root_filesystem_holds_the_libraries_and_a_state_dir_for_65532(self):
        root = podman("image", "mount", self.image).stdout.strip()
        self.addCleanup(podman, "image", "unmount", self.image, check=False)
        for binary in (os.environ["SU_BINARY"], PG_BINDIR + "/pg_dump", PG_BINDIR + "/pg_restore", PG_BINDIR + "/psql"):
            for lib in libraries(binary):
                self.assertTrue(os.path.exists(root + lib), "%s (linked by %s) is missing from the image" % (lib, binary))
        st = os.stat(os.path.join(root, "var/lib/schema-upgrade"))
        self.assertEqual((st.st_uid, st.st_gid), (65532, 65532))
        with open(os.path.join(root, "etc/passwd")) as f:
            self.assertIn("nonroot:x:65532:65532:", f.read())
        self.assertTrue(os.path.exists(os.path.join(root, "etc/ssl/certs/ca-certificates.crt")))
        self.assertTrue(os.path.exists(os.path.join(root, "usr/share/zoneinfo/Europe/Berlin")))


if __name__ == "__main__":
    unittest.main()
