#!/usr/bin/env python3
"""A fake of the two comment APIs post-comment.sh calls, for its test: GitHub issue comments
(GET/POST /repos/O/R/issues/N/comments, PATCH /repos/O/R/issues/comments/ID, Bearer token) and
GitLab merge-request notes (GET/POST /projects/P/merge_requests/M/notes, PUT .../notes/ID,
PRIVATE-TOKEN), paginated with per_page/page as both do. Test hooks: POST /_seed {kind, thread,
bodies} adds comments; GET /_dump returns every thread and the request log.
Prints "fake-forge ready port=N" once it serves. Stdlib only."""
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "secret-token"
LOCK = threading.Lock()
THREADS = {}   # "github:o/r#7" -> [{"id": .., "body": ..}]
LOG = []       # "METHOD path"
NEXT_ID = [1000]

GH_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
GH_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
GL_LIST = re.compile(r"^/projects/([^/]+)/merge_requests/(\d+)/notes$")
GL_ONE = re.compile(r"^/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)$")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def authorized(self, kind):
        if kind == "github":
            return self.headers.get("Authorization") == "Bearer " + TOKEN
        return self.headers.get("PRIVATE-TOKEN") == TOKEN

    def handle_any(self, method):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        with LOCK:
            LOG.append(method + " " + url.path)
        if url.path == "/_dump":
            with LOCK:
                return self.reply(200, {"threads": THREADS, "log": LOG})
        if url.path == "/_seed":
            b = self.body()
            with LOCK:
                t = THREADS.setdefault(b["kind"] + ":" + b["thread"], [])
                for text in b["bodies"]:
                    NEXT_ID[0] += 1
                    t.append({"id": NEXT_ID[0], "body": text})
            return self.reply(201, {})
        for kind, rx_list, rx_one in (("github", GH_LIST, GH_ONE), ("gitlab", GL_LIST, GL_ONE)):
            m_list, m_one = rx_list.match(url.path), rx_one.match(url.path)
            if not (m_list or m_one):
                continue
            if not self.authorized(kind):
                return self.reply(401, {"message": "Bad credentials"})
            with LOCK:
                if m_list:
                    key = kind + ":" + m_list.group(1) + "#" + m_list.group(2)
                    t = THREADS.setdefault(key, [])
                    if method == "GET":
                        per = int(q.get("per_page", ["30"])[0])
                        page = int(q.get("page", ["1"])[0])
                        return self.reply(200, t[(page - 1) * per:page * per])
                    if method == "POST":
                        NEXT_ID[0] += 1
                        c = {"id": NEXT_ID[0], "body": self.body()["body"]}
                        t.append(c)
                        return self.reply(201, c)
                else:
                    cid = int(m_one.group(m_one.lastindex))
                    if (kind, method) not in (("github", "PATCH"), ("gitlab", "PUT")):
                        return self.reply(405, {"message": "method not allowed"})
                    for t in THREADS.values():
                        for c in t:
                            if c["id"] == cid:
                                c["body"] = self.body()["body"]
                                return self.reply(200, c)
                    return self.reply(404, {"message": "Not Found"})
            return self.reply(405, {"message": "method not allowed"})
        return self.reply(404, {"message": "Not Found"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_PUT(self):
        self.handle_any("PUT")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("fake-forge ready port=%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
