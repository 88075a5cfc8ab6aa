# The Containerfile cannot be built here (no registry is reachable), so it is checked against what
# it must provide, so it cannot rot silently:
# - the runtime stage installs, by name, the Debian package of every library the built binary
#   links (objdump NEEDED, resolved by ldd, mapped with dpkg -S), and every library ldd loads
#   comes from those packages' dependencies (or from the base image's required packages);
# - it installs the PostgreSQL client tools SU_PG_BINDIR names, and tzdata;
# - the build stage installs every -dev package `make deps` installs for the build, builds only
#   the schema-upgrade target, and CMake configures on exactly the context .dockerignore leaves;
# - the image runs as 65532, from debian:12 stages.
import fnmatch
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from chart import SOURCE_DIR

BINARY = os.environ.get("SU_BINARY", "")
CONTAINERFILE = os.path.join(SOURCE_DIR, "Containerfile")


def stages():
    """[(FROM line, [instruction text with continuations joined])]"""
    with open(CONTAINERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return out


def installed(instructions):
    pkgs = set()
    for ins in instructions:
        for m in re.finditer(r"apt-get install ([^&;]*)", ins):
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def package_of(path):
    for p in {path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/"), path.replace("/lib/", "/usr/lib/", 1)}:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    raise AssertionError("dpkg -S finds no package for %s" % path)


def dpkg_field(pkg, field):
    r = subprocess.run(["dpkg-query", "-W", "-f=${%s}" % field, pkg], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def closure(pkgs):
    """The packages pkgs depend on (Depends, Pre-Depends), as installed on this Debian 12 host."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        deps = dpkg_field(p, "Depends") + "," + dpkg_field(p, "Pre-Depends")
        for alt in deps.split(","):
            names = [a.split()[0].split(":")[0] for a in alt.split("|") if a.strip()]
            have = [n for n in names if dpkg_field(n, "Status").endswith("installed")]
            todo.extend(have[:1] or names[:1])
    return seen


def linked_libraries():
    """({soname: path} of NEEDED, {soname: path} of everything ldd loads)"""
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(["objdump", "-p", BINARY], capture_output=True, text=True, check=True).stdout)
    loaded = {}
    for line in subprocess.run(["ldd", BINARY], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            loaded[m.group(1)] = m.group(2)
    return {n: loaded[n] for n in needed}, loaded


class ContainerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(CONTAINERFILE):
            raise AssertionError("Containerfile is missing at the repository root")
        if not BINARY or not os.access(BINARY, os.X_OK):
            raise RuntimeError("SU_BINARY must name the built schema-upgrade (ctest sets it)")
        cls.stages = stages()
        cls.build_from, cls.build = cls.stages[0]
        cls.runtime_from, cls.runtime = cls.stages[-1]
        cls.runtime_pkgs = installed(cls.runtime)

    def test_two_debian_12_stages(self):
        self.assertEqual(len(self.stages), 2)
        self.assertRegex(self.build_from, r"^FROM \S*debian:12 AS build$")
        self.assertRegex(self.runtime_from, r"^FROM \S*debian:12-slim$")

    def test_runtime_names_the_package_of_every_linked_library(self):
        needed, _ = linked_libraries()
        self.assertIn("libpq.so.5", needed)
        for soname, path in sorted(needed.items()):
            with self.subTest(library=soname):
                pkg = package_of(path)
                self.assertIn(pkg, self.runtime_pkgs, "the binary links %s (%s, Debian package %s), which the runtime "
                              "stage of Containerfile does not install: add %s to its apt-get install" % (soname, path, pkg, pkg))

    def test_every_loaded_library_comes_with_the_runtime_packages(self):
        _, loaded = linked_libraries()
        have = closure(self.runtime_pkgs)
        for soname, path in sorted(loaded.items()):
            with self.subTest(library=soname):
                pkg = package_of(path)
                required = dpkg_field(pkg, "Priority") == "required" or dpkg_field(pkg, "Essential") == "yes"
                self.assertTrue(pkg in have or required, "ldd loads %s from %s, which neither the runtime packages "
                                "nor their dependencies bring: add %s to the runtime stage" % (soname, pkg, pkg))

    def test_pg_tools_tzdata_and_the_state_dir(self):
        env = " ".join(i for i in self.runtime if i.startswith("ENV "))
        bindir = re.search(r"SU_PG_BINDIR=(\S+)", env).group(1)
        major = re.search(r"/postgresql/(\d+)/bin", bindir).group(1)
        self.assertIn("postgresql-client-" + major, self.runtime_pkgs)
        # The package really puts pg_dump there (Debian 12's layout, checked on this host).
        self.assertIn(bindir + "/pg_dump", subprocess.run(["dpkg", "-L", "postgresql-client-" + major],
                                                          capture_output=True, text=True).stdout.splitlines())
        self.assertIn("tzdata", self.runtime_pkgs)
        self.assertIn("SU_STATE_DIR=/var/lib/schema-upgrade", env)
        users = [i for i in self.runtime if i.startswith("USER ")]
        self.assertEqual(users, ["USER 65532:65532"])
        self.assertTrue(self.runtime[-2].startswith("ENTRYPOINT") or any(i.startswith("ENTRYPOINT") for i in self.runtime))

    def test_build_stage_installs_what_make_deps_installs_for_the_build(self):
        with open(os.path.join(SOURCE_DIR, "Makefile")) as f:
            text = re.sub(r"\\\n", " ", f.read())
        deb = re.search(r"^DEB_PACKAGES\s*=\s*(.*)$", text, re.M).group(1).split()
        wanted = {p for p in deb if p.endswith("-dev") and "gtest" not in p and "gmock" not in p} | {"cmake", "pkg-config"}
        self.assertEqual(wanted - installed(self.build), set(), "the build stage lacks build dependencies of make deps")
        runs = " ".join(self.build)
        self.assertIn("--target schema-upgrade", runs)
        self.assertIn("-DSU_BUILD_TESTS=OFF", runs)

    def test_cmake_configures_on_the_build_context(self):
        ignore = []
        with open(os.path.join(SOURCE_DIR, ".dockerignore")) as f:
            ignore = [l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")]
        ctx = tempfile.mkdtemp(prefix="su-context-")
        self.addCleanup(shutil.rmtree, ctx)
        src = os.path.join(ctx, "src")

        def skip(folder, names):
            rel = os.path.relpath(folder, SOURCE_DIR)
            return [n for n in names if any(fnmatch.fnmatch(n if rel == "." else os.path.join(rel, n), pat) for pat in ignore)]
        shutil.copytree(SOURCE_DIR, src, ignore=skip, symlinks=True)
        self.assertFalse(os.path.exists(os.path.join(src, "tests")))
        r = subprocess.run(["cmake", "-S", src, "-B", os.path.join(ctx, "build"), "-DCMAKE_BUILD_TYPE=Release",
                            "-DSU_BUILD_TESTS=OFF"], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, "cmake does not configure on the Containerfile's build context:\n" + r.stdout[-2000:] + r.stderr[-3000:])
        targets = subprocess.run(["cmake", "--build", os.path.join(ctx, "build"), "--target", "help"],
                                 capture_output=True, text=True).stdout
        self.assertIn("schema-upgrade", targets)


if __name__ == "__main__":
    unittest.main()
