# Reads the Kubernetes API calls the C++ sources make, for tests/integration/deploy/test_rbac_calls.py
# (RBAC in manifests/ and the chart must grant exactly these). The convention that makes a call
# readable (docs/kubernetes.md, "RBAC"):
#   - every call goes through a KubeApi (kube/api.h): `x->Get|List|Watch|Create|Update|Patch|Delete(path, ...)`
#     on a variable, member or parameter declared as a KubeApi pointer/reference/smart pointer;
#     the KubeApi method is the RBAC verb (a KubeApi decorator that passes its own method's
#     `const ResourcePath&` parameter on is not a use: its callers are);
#   - path is a kube::ResourcePath whose resource is a named GroupVersionResource constant
#     (`const GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases", true};`, kube/api.h
#     or the file that uses it) and whose subresource, if any, is a string literal: written in the
#     call (`ResourcePath{kSchemaUpgrades, ns, name, "status"}`), or in a local variable's
#     initializer, or in the body of a function returning ResourcePath (`Path()`), or as the default
#     of a struct field (`GroupVersionResource gvr = kSchemaUpgrades;`, with `.gvr = kX` assignments).
# A call this reader cannot resolve is reported with its file and line: the test fails on it.
import os
import re

VERBS = {"Get": "get", "List": "list", "Watch": "watch", "Create": "create", "Update": "update",
         "Patch": "patch", "Delete": "delete"}
SKIP_DIRS = {"tests", "bench", "build", ".git", "examples", "docs", "charts", "manifests", "crds"}
# Files that implement KubeApi rather than call it.
IMPLEMENTATIONS = {os.path.join("kube", "rest_client.cc")}

GVR_DEF = re.compile(r'GroupVersionResource\s+(k\w+)\s*(?:=\s*)?\{\s*"([^"]*)"\s*,\s*"([^"]*)"\s*,\s*"([^"]*)"')
RECEIVER = re.compile(r'KubeApi\s*(?:\*|&|>)+\s*(?:const\s+)?(\w+)')
FIELD_DEFAULT = re.compile(r'GroupVersionResource\s+(\w+)\s*=\s*(k\w+)\s*;')
FIELD_ASSIGN = re.compile(r'\.(\w+)\s*=\s*(k\w+)\b')
SUBRESOURCE = re.compile(r'"(status|scale|log|eviction|binding|approval)"')


class Call:
    def __init__(self, path, line, verb, text):
        self.path, self.line, self.verb, self.text = path, line, verb, text
        self.resources = set()  # {(group, resource or resource/subresource)}
        self.error = ""

    def where(self):
        return "%s:%d" % (self.path, self.line)


def sources(root):
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = [x for x in dirs if not (rel == "." and (x in SKIP_DIRS or x.startswith("build")))]
        for f in files:
            if f.endswith((".cc", ".h", ".cpp", ".hpp")):
                p = os.path.relpath(os.path.join(d, f), root)
                if p not in IMPLEMENTATIONS:
                    yield p


def strip_comments(text):
    """Comments become spaces (newlines kept, so line numbers stay right); strings are kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(c if c == "\n" else " " for c in text[i:j])); i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1]); i = j + 1
        else:
            out.append(text[i]); i += 1
    return "".join(out)


def balanced(text, open_at):
    """The text inside the parentheses/braces opening at open_at, and the index after them."""
    pairs = {"(": ")", "{": "}"}
    depth, i = 0, open_at
    while i < len(text):
        c = text[i]
        if c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i], i + 1
        elif c == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j
        i += 1
    return text[open_at + 1:], len(text)


def first_argument(args):
    depth = 0
    for i, c in enumerate(args):
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == "," and depth == 0:
            return args[:i].strip()
    return args.strip()


class Sources:
    def __init__(self, root):
        self.root = root
        self.text = {}
        for p in sources(root):
            with open(os.path.join(root, p), encoding="utf-8", errors="replace") as f:
                self.text[p] = strip_comments(f.read())
        self.gvrs = {}  # constant -> (group, resource)
        for t in self.text.values():
            for m in GVR_DEF.finditer(t):
                self.gvrs[m.group(1)] = (m.group(2), m.group(4))
        self.field_gvrs = {}  # field name -> {constant}: struct defaults and `.field = kX` assignments
        for t in self.text.values():
            for m in FIELD_DEFAULT.finditer(t):
                self.field_gvrs.setdefault(m.group(1), set()).add(m.group(2))
        for t in self.text.values():
            for m in FIELD_ASSIGN.finditer(t):
                if m.group(1) in self.field_gvrs and m.group(2) in self.gvrs:
                    self.field_gvrs[m.group(1)].add(m.group(2))
        self.functions = {}  # name -> [body] of functions returning ResourcePath or GroupVersionResource
        for t in self.text.values():
            for m in re.finditer(r'(?:ResourcePath|GroupVersionResource)\s+(?:[\w:]+::)?(\w+)\s*\([^;{)]*\)\s*(?:const\s*)?\{', t):
                body, _ = balanced(t, m.end() - 1)
                self.functions.setdefault(m.group(1), []).append(body)

    def receivers(self, path):
        base = os.path.splitext(path)[0]
        names = set()
        for p in (path, base + ".h", base + ".cc"):
            if p in self.text:
                names |= set(RECEIVER.findall(self.text[p]))
        return names

    def resolve(self, expr, path, before, depth=0):
        """{(constant, subresource)} that expr can name, or None when it cannot be read."""
        if depth > 4:
            return None
        consts = [c for c in re.findall(r'\b(k\w+)\b', expr) if c in self.gvrs]
        subs = SUBRESOURCE.findall(expr)
        sub = subs[0] if subs else ""
        if consts:
            return {(c, sub) for c in consts}
        found = set()
        # A struct field that holds the GVR (options_.gvr).
        for field in re.findall(r'\.\s*(\w+)\b', expr):
            for c in self.field_gvrs.get(field, ()):
                found.add((c, sub))
        if found:
            return found
        # A call of a function returning the path (Path(), StatusPath(key)).
        for name in re.findall(r'\b(\w+)\s*\(', expr):
            for body in self.functions.get(name, []):
                r = self.resolve(body, path, len(body), depth + 1)
                if r:
                    found |= {(c, s or sub) for c, s in r}
        if found:
            return found
        # A local variable: its nearest declaration before the call, and later subresource assignments.
        m = re.fullmatch(r'\s*(?:std::move\()?\s*(\w+)\s*\)?\s*', expr)
        if m:
            var = m.group(1)
            text = self.text[path][:before]
            decls = list(re.finditer(r'ResourcePath\s+' + var + r'\s*(=|\{)', text))
            if decls:
                d = decls[-1]
                if d.group(1) == "{":
                    init, _ = balanced(text, d.end() - 1)
                else:
                    end = text.find(";", d.end())
                    init = text[d.end():end]
                later = text[d.end():]
                assigned = re.findall(var + r'\.subresource\s*=\s*"(\w+)"', later)
                r = self.resolve(init, path, d.start(), depth + 1)
                if r is not None:
                    return {(c, assigned[-1] if assigned else s) for c, s in r}
        return None

    def implements_kube_api(self, path):
        base = os.path.splitext(path)[0]
        return any(re.search(r'class\s+\w+\s*(?:final\s*)?:\s*public\s+(?:su::)?(?:kube::)?KubeApi\b', self.text.get(p, ""))
                   for p in (path, base + ".h", base + ".cc"))

    def calls(self):
        out = []
        for path, text in sorted(self.text.items()):
            names = self.receivers(path)
            if not names:
                continue
            # A KubeApi decorator (metrics, retries) passes its own method's path on: the resource is
            # decided by whoever calls the decorator, whose call is read where it is written.
            forwarding = self.implements_kube_api(path)
            pattern = re.compile(r'\b(' + "|".join(map(re.escape, sorted(names))) + r')\s*(?:->|\.)\s*(' +
                                 "|".join(VERBS) + r')\s*\(')
            for m in pattern.finditer(text):
                args, end = balanced(text, m.end() - 1)
                line = text.count("\n", 0, m.start()) + 1
                call = Call(path, line, VERBS[m.group(2)], " ".join(text[m.start():end].split()))
                first = first_argument(args)
                if forwarding and re.fullmatch(r'\w+', first) and re.search(
                        r'const\s+(?:kube::)?ResourcePath\s*&\s*' + first + r'\b', text[:m.start()]):
                    continue
                r = self.resolve(first, path, m.start())
                if not r:
                    call.error = ("%s: `%s`: cannot tell which resource this KubeApi call uses. Build its ResourcePath "
                                  "from a named GroupVersionResource constant (kube/api.h) and a literal subresource, in "
                                  "the call, a local variable or a function returning ResourcePath (docs/kubernetes.md, RBAC)"
                                  % (call.where(), call.text[:160]))
                else:
                    for c, sub in r:
                        group, resource = self.gvrs[c]
                        call.resources.add((group, resource + ("/" + sub if sub else "")))
                out.append(call)
        return out


def used_rules(root):
    """({(group, resource, verb): [Call]}, [unreadable Call])"""
    used, unreadable = {}, []
    for call in Sources(root).calls():
        if call.error:
            unreadable.append(call)
        for group, resource in call.resources:
            used.setdefault((group, resource, call.verb), []).append(call)
    return used, unreadable


def granted_rules(docs):
    """{(group, resource, verb): [(kind, namespace, name)]} of every Role/ClusterRole in docs."""
    out = {}
    for d in docs:
        if d.get("kind") not in ("Role", "ClusterRole"):
            continue
        who = (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
        for rule in d.get("rules") or []:
            for g in rule.get("apiGroups", []):
                for r in rule.get("resources", []):
                    for v in rule.get("verbs", []):
                        out.setdefault((g, r, v), []).append(who)
    return out
