#!/usr/bin/env python3
"""Self-test of check_link_graph.py: tiny source trees, each breaking one rule, must be refused
with a message naming the module and the header; a consistent tree must pass."""
import os
import subprocess
import sys
import tempfile
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_link_graph.py")


def tree(files):
    d = tempfile.TemporaryDirectory()
    for path, text in files.items():
        full = os.path.join(d.name, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return d


def run(d):
    p = subprocess.run([sys.executable, CHECK, d.name], capture_output=True, text=True)
    return p.returncode, p.stdout


BASE = {
    "a/a.h": "#pragma once\n",
    "a/a.cc": '#include "a/a.h"\n',
    "b/b.h": '#pragma once\n#include "a/a.h"\n',
    "b/b.cc": '#include "b/b.h"\n',
    "c/c.cc": '#include "b/b.h"\n',
    "tests/unit/c/c_test.cc": '#include "b/b.h"\n',
    "tests/unit/c/CMakeLists.txt": "su_test(c_test unit SOURCES c_test.cc LIBS su_b)\n",
}


def cmake(*modules):
    return "\n".join(f"su_module({m})" for m in modules) + "\n"


class CheckLinkGraphTest(unittest.TestCase):
    def check(self, extra, modules):
        files = dict(BASE)
        files.update(extra)
        files["CMakeLists.txt"] = cmake(*modules)
        d = tree(files)
        try:
            return run(d)
        finally:
            d.cleanup()

    def test_consistent_tree_passes(self):
        # c includes b.h, which includes a.h: linking su_a (seen through b.h) is allowed too.
        rc, out = self.check({}, ["su_a a", "su_b b su_a", "su_c c su_b su_a"])
        self.assertEqual(rc, 0, out)

    def test_include_without_link_names_module_and_header(self):
        rc, out = self.check({}, ["su_a a", "su_b b", "su_c c su_b"])
        self.assertEqual(rc, 1, out)
        self.assertIn("su_b: b/b.h includes a/a.h (module su_a)", out)

    def test_link_without_include_names_module(self):
        rc, out = self.check({"d/d.cc": "int x;\n"}, ["su_a a", "su_b b su_a", "su_c c su_b", "su_d d su_a"])
        self.assertEqual(rc, 1, out)
        self.assertIn("su_d: su_module(su_d d ...) links su_a but no file of su_d includes a header of su_a", out)

    def test_cc_includes_do_not_propagate(self):
        # b.cc (not b.h) includes e.h: c, which includes b.h only, may not link su_e.
        rc, out = self.check({"e/e.h": "#pragma once\n", "b/b.cc": '#include "b/b.h"\n#include "e/e.h"\n'},
                             ["su_a a", "su_e e", "su_b b su_a su_e", "su_c c su_b su_e"])
        self.assertEqual(rc, 1, out)
        self.assertIn("su_c: su_module(su_c c ...) links su_e", out)

    def test_test_compiling_sources_by_path_is_refused(self):
        rc, out = self.check({"tests/unit/c/CMakeLists.txt":
                              "su_test(c_test unit SOURCES c_test.cc ${CMAKE_SOURCE_DIR}/b/b.cc LIBS su_b)\n"},
                             ["su_a a", "su_b b su_a", "su_c c su_b"])
        self.assertEqual(rc, 1, out)
        self.assertIn("c_test: tests/unit/c/CMakeLists.txt compiles ${CMAKE_SOURCE_DIR}/b/b.cc", out)

    def test_api_must_stay_a_leaf(self):
        rc, out = self.check({"api/spec.h": "#pragma once\n#include <yaml-cpp/yaml.h>\n"},
                             ["su_a a", "su_b b su_a", "su_c c su_b", "su_api api"])
        self.assertEqual(rc, 1, out)
        self.assertIn("su_api: api/spec.h includes <yaml-cpp/yaml.h>", out)


if __name__ == "__main__":
    unittest.main()
