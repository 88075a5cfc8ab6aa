# HTTP/1.1 keep-alive in the emulator: a request refused before its body was read (405, 415, 401,
# an unknown path) must still have its body consumed, so the next request on the same connection
# is parsed from its own request line (it got 501 Unsupported method when the body was left unread).
import http.client
import json
import os
import ssl
import unittest

from emulator import Emulator

SU = "/apis/olympus.io/v1alpha1/namespaces/default/schemaupgrades"
CM = "/api/v1/namespaces/default/configmaps"


class KeepAliveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator().start()
        cls.ctx = ssl.create_default_context(cafile=os.path.join(cls.emu.dir, "ca.crt"))

    @classmethod
    def tearDownClass(cls):
        cls.emu.cleanup()

    def setUp(self):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.emu.port, context=self.ctx, timeout=60)
        self.addCleanup(self.conn.close)

    def request(self, method, path, body=None, content_type="application/json", auth=True):
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = "Bearer " + self.emu.token()
        if body is not None:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read().decode()

    def assert_next_request_served_on_same_connection(self):
        sock = self.conn.sock
        self.assertIsNotNone(sock, "the server closed the connection instead of keeping it alive")
        status, text = self.request("GET", CM)
        self.assertEqual(status, 200, text)
        self.assertEqual(json.loads(text)["kind"], "ConfigMapList")
        self.assertIs(self.conn.sock, sock, "the follow-up request needed a new connection")

    def test_405_with_a_body(self):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v" * 5000}})
        status, text = self.request("POST", CM + "/x", body)
        self.assertEqual(status, 405, text)
        self.assertEqual(json.loads(text)["reason"], "MethodNotAllowed")
        self.assert_next_request_served_on_same_connection()

    def test_415_with_a_body(self):
        status, text = self.request("PATCH", CM + "/x", json.dumps({"data": {"k": "v"}}), content_type="text/plain")
        self.assertEqual(status, 415, text)
        self.assert_next_request_served_on_same_connection()

    def test_401_with_a_body(self):
        status, text = self.request("POST", CM, json.dumps({"metadata": {"name": "y"}}), auth=False)
        self.assertEqual(status, 401, text)
        self.assert_next_request_served_on_same_connection()

    def test_404_path_with_a_body(self):
        status, text = self.request("POST", "/apis/no.such.group/v1/namespaces/default/things", json.dumps({"a": 1}))
        self.assertEqual(status, 404, text)
        self.assert_next_request_served_on_same_connection()

    def test_body_read_by_the_handler_is_not_read_twice(self):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}, "data": {"k": "v"}})
        status, text = self.request("POST", CM, body)
        self.assertEqual(status, 201, text)
        self.assert_next_request_served_on_same_connection()


if __name__ == "__main__":
    unittest.main()
