# A small CEL interpreter for x-kubernetes-validations rules: enough of the language for the rules
# CRDs usually write (and all of crds/olympus.io_schemaupgrades.yaml's): literals, self.field,
# [index], has() presence tests, ! && || ?: (with CEL's error-absorbing && and ||), comparison and
# arithmetic, `in`, size(), duration(), int()/string()/double(), and the string methods
# startsWith/endsWith/contains/matches/size. Anything else raises CelError, which the caller
# reports as an unsupported rule rather than silently passing it.
import re

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d+|\d+u?)|
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|
    (?P<id>[A-Za-z_][A-Za-z0-9_]*)|
    (?P<op>\|\||&&|==|!=|<=|>=|[-+*/%<>!?:.,()\[\]{}]))""", re.X)


class CelError(Exception):
    pass


class _NoSuchKey(CelError):
    pass


def tokenize(src):
    pos, out = 0, []
    src = src.rstrip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise CelError("unexpected character at %d in %r" % (pos, src))
        pos = m.end()
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "num":
            out.append(("lit", float(text) if "." in text else int(text.rstrip("u"))))
        elif kind == "str":
            out.append(("lit", bytes(text[1:-1], "utf-8").decode("unicode_escape")))
        elif kind == "id" and text in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[text]))
        elif kind == "id" and text == "in":
            out.append(("op", "in"))
        else:
            out.append((kind, text))
    out.append(("end", None))
    return out


# AST nodes are tuples: ("lit", v) ("id", name) ("sel", obj, field) ("idx", obj, i) ("call", name, target, args)
# ("has", sel) ("un", op, x) ("bin", op, a, b) ("cond", c, a, b) ("list", items)
class _Parser:
    PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
            "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}

    def __init__(self, tokens):
        self.t, self.i = tokens, 0

    def peek(self):
        return self.t[self.i]

    def next(self):
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, text):
        tok = self.next()
        if tok[1] != text:
            raise CelError("expected %r, got %r" % (text, tok[1]))

    def expr(self):
        cond = self.binary(1)
        if self.peek() == ("op", "?"):
            self.next()
            a = self.expr()
            self.expect(":")
            b = self.expr()
            return ("cond", cond, a, b)
        return cond

    def binary(self, min_prec):
        left = self.unary()
        while True:
            kind, op = self.peek()
            prec = self.PREC.get(op) if kind == "op" else None
            if prec is None or prec < min_prec:
                return left
            self.next()
            right = self.binary(prec + 1)
            left = ("bin", op, left, right)

    def unary(self):
        kind, op = self.peek()
        if kind == "op" and op in ("!", "-"):
            self.next()
            return ("un", op, self.unary())
        return self.postfix(self.primary())

    def args(self):
        out = []
        if self.peek() == ("op", ")"):
            self.next()
            return out
        while True:
            out.append(self.expr())
            tok = self.next()
            if tok[1] == ")":
                return out
            if tok[1] != ",":
                raise CelError("expected , or )")

    def primary(self):
        kind, v = self.next()
        if kind == "lit":
            return ("lit", v)
        if kind == "id":
            if self.peek() == ("op", "("):
                self.next()
                a = self.args()
                if v == "has":
                    if len(a) != 1 or a[0][0] != "sel":
                        raise CelError("has() takes a field selection")
                    return ("has", a[0])
                return ("call", v, None, a)
            return ("id", v)
        if (kind, v) == ("op", "("):
            e = self.expr()
            self.expect(")")
            return e
        if (kind, v) == ("op", "["):
            items = []
            if self.peek() == ("op", "]"):
                self.next()
                return ("list", items)
            while True:
                items.append(self.expr())
                tok = self.next()
                if tok[1] == "]":
                    return ("list", items)
                if tok[1] != ",":
                    raise CelError("expected , or ]")
        raise CelError("unexpected %r" % (v,))

    def postfix(self, node):
        while True:
            tok = self.peek()
            if tok == ("op", "."):
                self.next()
                kind, name = self.next()
                if kind != "id":
                    raise CelError("expected a field name after .")
                if self.peek() == ("op", "("):
                    self.next()
                    node = ("call", name, node, self.args())
                else:
                    node = ("sel", node, name)
            elif tok == ("op", "["):
                self.next()
                idx = self.expr()
                self.expect("]")
                node = ("idx", node, idx)
            else:
                return node


def compile_rule(src):
    p = _Parser(tokenize(src))
    ast = p.expr()
    if p.peek()[0] != "end":
        raise CelError("unexpected %r after the expression" % (p.peek()[1],))
    return ast


_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class Duration(float):
    pass


def parse_duration(s):
    if s in ("0", ""):
        return Duration(0)
    pos, total = 0, 0.0
    neg = s.startswith("-")
    if neg:
        pos = 1
    while pos < len(s):
        m = _DUR.match(s, pos)
        if not m:
            raise CelError("invalid duration %r" % s)
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    return Duration(-total if neg else total)


def evaluate(ast, env):
    k = ast[0]
    if k == "lit":
        return ast[1]
    if k == "id":
        if ast[1] not in env:
            raise CelError("undeclared reference to %r" % ast[1])
        return env[ast[1]]
    if k == "sel":
        obj = evaluate(ast[1], env)
        if not isinstance(obj, dict):
            raise CelError("no such key: %s" % ast[2])
        if ast[2] not in obj:
            raise _NoSuchKey("no such key: %s" % ast[2])
        return obj[ast[2]]
    if k == "has":
        obj = evaluate(ast[1][1], env)
        return isinstance(obj, dict) and ast[1][2] in obj
    if k == "idx":
        obj, idx = evaluate(ast[1], env), evaluate(ast[2], env)
        try:
            return obj[idx]
        except (KeyError, IndexError, TypeError):
            raise _NoSuchKey("no such key: %r" % (idx,))
    if k == "list":
        return [evaluate(i, env) for i in ast[1]]
    if k == "cond":
        return evaluate(ast[2] if _bool(evaluate(ast[1], env)) else ast[3], env)
    if k == "un":
        v = evaluate(ast[2], env)
        return (not _bool(v)) if ast[1] == "!" else -v
    if k == "bin":
        op = ast[1]
        if op in ("&&", "||"):
            err = None
            try:
                a = _bool(evaluate(ast[2], env))
                if (op == "||") == a:
                    return a
            except CelError as e:
                err = e
            b = _bool(evaluate(ast[3], env))
            if (op == "||") == b:
                return b
            if err:
                raise err
            return b
        a, b = evaluate(ast[2], env), evaluate(ast[3], env)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "in":
            return a in b
        try:
            return {"<": lambda: a < b, "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b,
                    "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                    "/": lambda: a // b if isinstance(a, int) and isinstance(b, int) else a / b,
                    "%": lambda: a % b}[op]()
        except (TypeError, ZeroDivisionError) as e:
            raise CelError("no matching overload for %s: %s" % (op, e))
    if k == "call":
        name, target = ast[1], ast[2]
        args = [evaluate(a, env) for a in ast[3]]
        if target is not None:
            t = evaluate(target, env)
            if name == "size":
                return len(t)
            if isinstance(t, str) and name in ("startsWith", "endsWith", "contains", "matches"):
                return {"startsWith": t.startswith, "endsWith": t.endswith, "contains": lambda s: s in t,
                        "matches": lambda p: re.search(p, t) is not None}[name](args[0])
            raise CelError("unsupported method %s" % name)
        if name == "size":
            return len(args[0])
        if name == "duration":
            return parse_duration(args[0])
        if name == "int":
            return int(args[0])
        if name == "double":
            return float(args[0])
        if name == "string":
            return args[0] if isinstance(args[0], str) else str(args[0])
        raise CelError("unsupported function %s" % name)
    raise CelError("unsupported expression")


def _bool(v):
    if not isinstance(v, bool):
        raise CelError("no such overload: expected a bool")
    return v


_CACHE = {}


def check(rule, value):
    """Whether the rule holds for self=value; CelError when it cannot be evaluated."""
    ast = _CACHE.get(rule)
    if ast is None:
        ast = _CACHE[rule] = compile_rule(rule)
    return evaluate(ast, {"self": value}) is True
