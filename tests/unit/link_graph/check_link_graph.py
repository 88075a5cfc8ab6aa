#!/usr/bin/env python3
"""check_link_graph.py: the CMake link graph matches the #include graph (issue 8).

Run as the ctest `link_graph_test` (label unit): python3 tests/unit/link_graph/check_link_graph.py SOURCE_DIR
Exit 0 when every rule holds; otherwise exit 1 with one line per violation, naming the module (or
test target), the file and the header.

Definitions
  module          a `su_module(NAME DIR DEPS...)` in the top CMakeLists.txt: the files directly in
                  DIR (not its sub-folders; those are other modules). DEPS are its link libraries.
  test target     a `su_test(NAME LABEL SOURCES ... LIBS ...)` under tests/ (which also links
                  su_testsupport), plus su_testsupport itself (tests/support/, an add_library): its
                  files are the SOURCES and the headers in its own folder.
  owner(header)   the module whose DIR holds the header. A header in a folder that is no module
                  and no library (tests/support/fakes/, a test folder's own helpers) is header-only
                  code of its includer: its #includes count as the includer's own.
  includes(T)     the owners of every project header that T's files #include, T excluded.
  reach(T)        includes(T), plus, for every module X in it, the owners of the headers X's
                  headers include, transitively (what T sees through public headers). Only
                  headers (.h) propagate: what a module's .cc includes is its own business.
  links*(T)       the project modules T links, directly or through those modules' DEPS.

Rules
  1. Included means linked: every module in includes(T) is in links*(T). (Otherwise T compiles
     against declarations whose definitions it links only by accident of link order.)
  2. Linked means used: every project module T links directly is in reach(T). A module that does
     not include podman code does not link su_runtime_podman; a test links what it tests.
  3. Libraries, not sources: a test target's SOURCES are files of its own folder (no path that
     leaves it, no ${...}); another module's code comes in by linking that module.
  4. su_api is a leaf: none of its files includes yaml-cpp, cpprestsdk or libpq headers, and it
     links no project module but su_base.
Only project modules are checked; third-party libraries (yaml-cpp, cpprestsdk, ...) are not.
"""
import os
import re
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SYSTEM_INCLUDE_RE = re.compile(r'^\s*#\s*include\s+<([^>]+)>', re.M)


def strip_comments(text):
    return re.sub(r"#.*", "", text)


def cmake_calls(text, func):
    """Yields the argument lists of every `func(...)` call in a CMake file (no nested parens)."""
    for m in re.finditer(r"\b" + func + r"\s*\(([^)]*)\)", strip_comments(text)):
        yield m.group(1).split()


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class Graph:
    def __init__(self, root):
        self.root = root
        self.modules = {}   # name -> {"dir", "deps", "files"}
        self.dir_owner = {}  # dir -> module name
        self.tests = {}     # name -> {"dir", "libs", "sources", "cmake"}
        self.errors = []
        self._load_modules()
        self._load_tests()
        self._header_cache = {}

    def _load_modules(self):
        for args in cmake_calls(read(os.path.join(self.root, "CMakeLists.txt")), "su_module"):
            name, d, deps = args[0], args[1], args[2:]
            full = os.path.join(self.root, d)
            files = sorted(os.path.join(d, f) for f in os.listdir(full)
                           if f.endswith((".h", ".cc")) and os.path.isfile(os.path.join(full, f)))
            self.modules[name] = {"dir": d, "deps": deps, "files": files}
            self.dir_owner[d] = name

    def _load_tests(self):
        tests_dir = os.path.join(self.root, "tests")
        for dirpath, _, filenames in os.walk(tests_dir):
            if "CMakeLists.txt" not in filenames:
                continue
            rel = os.path.relpath(dirpath, self.root)
            cmake = os.path.join(rel, "CMakeLists.txt")
            text = read(os.path.join(self.root, cmake))
            for args in cmake_calls(text, "su_test"):
                name, sources, libs, mode = args[0], [], [], None
                for a in args[2:]:
                    if a in ("SOURCES", "LIBS", "TIMEOUT"):
                        mode = a
                    elif mode == "SOURCES":
                        sources.append(a)
                    elif mode == "LIBS":
                        libs.append(a)
                # su_test() links su_testsupport into every test (tests/CMakeLists.txt).
                self.tests[name] = {"dir": rel, "libs": libs + ["su_testsupport"], "sources": sources,
                                    "cmake": cmake, "implicit": {"su_testsupport"}}
            for args in cmake_calls(text, "add_library"):
                name = args[0]
                sources = [a for a in args[1:] if a not in ("STATIC", "SHARED", "OBJECT")]
                libs = []
                for largs in cmake_calls(text, "target_link_libraries"):
                    if largs and largs[0] == name:
                        libs += [a for a in largs[1:] if a not in ("PUBLIC", "PRIVATE", "INTERFACE")]
                headers = sorted(os.path.join(rel, f) for f in filenames if f.endswith(".h"))
                self.tests[name] = {"dir": rel, "libs": libs, "sources": sources, "cmake": cmake, "files": headers}
                self.dir_owner[rel] = name  # tests/support is a library: its headers are its own

    def owner(self, header):
        return self.dir_owner.get(os.path.dirname(header))

    def includes_of(self, path):
        """Project headers #included by path, with header-only folders inlined."""
        out, seen, todo = [], set(), [path]
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            full = os.path.join(self.root, p)
            if not os.path.isfile(full):
                continue
            for inc in INCLUDE_RE.findall(read(full)):
                if not os.path.isfile(os.path.join(self.root, inc)):
                    continue  # not a project header
                if self.owner(inc) is None:
                    todo.append(inc)  # header-only helper: its includes are the includer's
                else:
                    out.append((p, inc))
        return out

    def header_reach(self, module):
        """Owners of what `module`'s headers include, transitively (public-header visibility)."""
        if module in self._header_cache:
            return self._header_cache[module]
        self._header_cache[module] = set()  # cycle guard
        reach = set()
        m = self.modules.get(module) or self.tests.get(module)
        if m:
            for f in m.get("files", []):
                if not f.endswith(".h"):
                    continue
                for _, inc in self.includes_of(f):
                    o = self.owner(inc)
                    if o and o != module:
                        reach.add(o)
                        reach |= self.header_reach(o)
        self._header_cache[module] = reach
        return reach

    def link_closure(self, libs):
        out, todo = set(), [l for l in libs if l in self.modules or l in self.tests]
        while todo:
            l = todo.pop()
            if l in out:
                continue
            out.add(l)
            deps = self.modules[l]["deps"] if l in self.modules else self.tests[l]["libs"]
            todo += [d for d in deps if d in self.modules or d in self.tests]
        return out

    def check_target(self, name, files, libs, where, implicit=()):
        project_libs = [l for l in libs if l in self.modules or l in self.tests]
        linked = self.link_closure(project_libs)
        included = {}  # owner -> (file, header) of the first include seen
        for f in files:
            for src, inc in self.includes_of(f):
                o = self.owner(inc)
                if o and o != name and o not in included:
                    included[o] = (src, inc)
        for o, (src, inc) in sorted(included.items()):
            if o not in linked:
                self.errors.append(f"{name}: {src} includes {inc} (module {o}) but {where} does not link {o}")
        reach = set(included)
        for o in included:
            reach |= self.header_reach(o)
        for l in project_libs:
            if l not in reach and l not in implicit:
                self.errors.append(f"{name}: {where} links {l} but no file of {name} includes a header of {l} "
                                   f"(directly or through the headers it includes)")

    def run(self):
        for name, m in self.modules.items():
            self.check_target(name, m["files"], m["deps"], f"su_module({name} {m['dir']} ...)")
        for name, t in self.tests.items():
            d = t["dir"]
            files = []
            for s in t["sources"]:
                if "$" in s or os.path.isabs(s) or os.path.normpath(os.path.join(d, s)).startswith("..") or \
                        os.path.dirname(os.path.normpath(os.path.join(d, s))) != d:
                    self.errors.append(f"{name}: {t['cmake']} compiles {s}, which is not in {d}/: link the "
                                       f"library that owns it instead")
                    continue
                files.append(os.path.join(d, s))
            files += sorted(os.path.join(d, f) for f in os.listdir(os.path.join(self.root, d)) if f.endswith(".h"))
            self.check_target(name, files, t["libs"], t["cmake"], t.get("implicit", ()))
        api = self.modules.get("su_api")
        if api:
            for f in api["files"]:
                for inc in SYSTEM_INCLUDE_RE.findall(read(os.path.join(self.root, f))):
                    if inc.startswith(("yaml-cpp/", "cpprest/", "pplx/")) or inc in ("libpq-fe.h", "libpq/libpq-fs.h"):
                        self.errors.append(f"su_api: {f} includes <{inc}>: api/ is a leaf (no yaml-cpp, cpprestsdk, libpq)")
            for d in api["deps"]:
                if d in self.modules and d != "su_base":
                    self.errors.append(f"su_api: links {d}: api/ is a leaf (only su_base)")
        return self.errors


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    errors = Graph(root).run()
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} link-graph violation(s): fix the target_link_libraries / su_module deps "
              f"(or the #include) so that the link graph matches the include graph.")
        return 1
    print("link graph matches the include graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
