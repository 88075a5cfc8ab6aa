# Fidelity of the API server emulator for Debian's python3-kubernetes client: list then watch from
# the list's resourceVersion, bookmarks, 410 Gone after compaction, merge / JSON / strategic patches,
# the status subresource, 409 on a stale resourceVersion, Leases, Events, label and field selectors.
import json
import threading
import unittest
import urllib.request
import ssl
import os

from emulator import Emulator, python_client

CRD = "crds/olympus.io_schemaupgrades.yaml"
G, V, P = "olympus.io", "v1alpha1", "schemaupgrades"


def su(name, version="v1", labels=None):
    return {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"targetVersion": version, "database": {"dsnFrom": {"env": "DSN"}},
                     "migrations": {"engine": "sql", "path": "/m"}}}


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from kubernetes import client  # Debian python3-kubernetes, for /usr/bin/python3
        cls.client = client
        cls.emu = Emulator("--bookmark-interval", "0.5").start()
        cls.emu.kubectl("apply", "-f", CRD)
        cls.api = python_client(cls.emu)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.emu.cleanup()

    def setUp(self):
        self.ns = "t-" + self.id().rsplit(".", 1)[1].replace("_", "-")[:50].strip("-")
        self.core = self.client.CoreV1Api(self.api)
        self.co = self.client.CustomObjectsApi(self.api)
        self.core.create_namespace({"metadata": {"name": self.ns}})

    def create(self, obj):
        return self.co.create_namespaced_custom_object(G, V, self.ns, P, obj)

    def stream(self, **kw):
        """Raw watch events (dicts) with a server-side timeout, as client-go's reflector reads them."""
        resp = self.co.list_namespaced_custom_object(G, V, self.ns, P, watch=True, _preload_content=False, **kw)
        try:
            for line in resp:
                if line.strip():
                    yield json.loads(line)
        finally:
            resp.release_conn()

    def test_list_then_watch_from_list_resource_version(self):
        self.create(su("a"))
        lst = self.co.list_namespaced_custom_object(G, V, self.ns, P)
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["a"])
        rv = lst["metadata"]["resourceVersion"]
        self.create(su("b"))
        self.co.patch_namespaced_custom_object(G, V, self.ns, P, "a", {"spec": {"targetVersion": "v2"}})
        self.co.delete_namespaced_custom_object(G, V, self.ns, P, "b")
        seen = []
        for ev in self.stream(resource_version=rv, timeout_seconds=30):
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            if len(seen) == 3:
                break
        self.assertEqual(seen, [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")])

    def test_watch_without_resource_version_starts_with_current_state(self):
        self.create(su("a"))
        ev = next(self.stream(timeout_seconds=30))
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "a"))

    def test_watch_list_send_initial_events_ends_with_a_bookmark(self):
        self.create(su("a"))
        self.create(su("b"))
        # client-go's WatchList request (python3-kubernetes 22 has no parameter for it: raw HTTP).
        req = urllib.request.Request(
            "https://127.0.0.1:%d/apis/olympus.io/v1alpha1/namespaces/%s/schemaupgrades?watch=true&sendInitialEvents=true"
            "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=30" % (self.emu.port, self.ns),
            headers={"Authorization": "Bearer " + self.emu.token()})
        ctx = ssl.create_default_context(cafile=os.path.join(self.emu.dir, "ca.crt"))
        events = []
        with urllib.request.urlopen(req, context=ctx) as resp:
            for line in resp:
                events.append(json.loads(line))
                if events[-1]["type"] == "BOOKMARK":
                    break
        self.assertEqual([(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]], [("ADDED", "a"), ("ADDED", "b")])
        self.assertEqual(events[2]["object"]["metadata"]["annotations"], {"k8s.io/initial-events-end": "true"})

    def test_bookmarks_carry_the_latest_resource_version(self):
        obj = self.create(su("a"))
        other = self.core.create_namespaced_config_map("default", {"metadata": {"generateName": "bm-"}})
        for ev in self.stream(resource_version=obj["metadata"]["resourceVersion"], allow_watch_bookmarks=True, timeout_seconds=30):
            if ev["type"] == "BOOKMARK":
                self.assertEqual(set(ev["object"]["metadata"]), {"resourceVersion"})
                self.assertGreaterEqual(int(ev["object"]["metadata"]["resourceVersion"]), int(other.metadata.resource_version))
                break
            self.fail("unexpected event %s" % ev["type"])

    def test_watch_from_compacted_resource_version_is_410_gone(self):
        obj = self.create(su("a"))
        self.create(su("b"))
        req = urllib.request.Request("https://127.0.0.1:%d/emulator/compact" % self.emu.port, method="POST",
                                     headers={"Authorization": "Bearer " + self.emu.token()})
        ctx = ssl.create_default_context(cafile=os.path.join(self.emu.dir, "ca.crt"))
        urllib.request.urlopen(req, context=ctx).read()
        ev = next(self.stream(resource_version=obj["metadata"]["resourceVersion"], timeout_seconds=30))
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (410, "Expired"))
        # The client's Watch helper turns it into an ApiException(410), the reflector's cue to re-list.
        from kubernetes import watch
        w = watch.Watch()
        with self.assertRaises(self.client.exceptions.ApiException) as cm:
            for _ in w.stream(self.co.list_namespaced_custom_object, G, V, self.ns, P,
                              resource_version=obj["metadata"]["resourceVersion"], timeout_seconds=30):
                pass
        self.assertEqual(cm.exception.status, 410)

    def test_watch_wakes_on_change_and_honours_label_selector(self):
        self.create(su("quiet", labels={"team": "b"}))
        rv = self.co.list_namespaced_custom_object(G, V, self.ns, P)["metadata"]["resourceVersion"]
        got = []
        started = threading.Event()

        def watch():
            started.set()
            for ev in self.stream(resource_version=rv, label_selector="team=a", timeout_seconds=30):
                got.append((ev["type"], ev["object"]["metadata"]["name"]))
                return

        t = threading.Thread(target=watch)
        t.start()
        started.wait()
        self.co.patch_namespaced_custom_object(G, V, self.ns, P, "quiet", {"spec": {"targetVersion": "v5"}})
        self.create(su("loud", labels={"team": "a"}))
        t.join(60)
        self.assertEqual(got, [("ADDED", "loud")])

    def test_status_subresource_and_generation(self):
        self.create(su("a"))
        st = self.co.patch_namespaced_custom_object_status(G, V, self.ns, P, "a", {"status": {"phase": "Migrating", "observedGeneration": 1}})
        self.assertEqual(st["metadata"]["generation"], 1)
        self.assertEqual(st["status"]["phase"], "Migrating")
        st = self.co.api_client.call_api(
            "/apis/olympus.io/v1alpha1/namespaces/{ns}/schemaupgrades/a", "PATCH", {"ns": self.ns},
            header_params={"Content-Type": "application/json-patch+json", "Accept": "application/json"},
            body=[{"op": "replace", "path": "/spec/targetVersion", "value": "v2"}], auth_settings=["BearerToken"],
            response_type="object", _return_http_data_only=True)
        self.assertEqual(st["metadata"]["generation"], 2)
        self.assertEqual(st["status"]["phase"], "Migrating")
        # A status write with the object read before the spec edit: 409, spec untouched.
        stale = dict(st, metadata=dict(st["metadata"], resourceVersion="1"), status={"phase": "Succeeded"})
        with self.assertRaises(self.client.exceptions.ApiException) as cm:
            self.co.replace_namespaced_custom_object_status(G, V, self.ns, P, "a", stale)
        self.assertEqual(cm.exception.status, 409)
        body = json.loads(cm.exception.body)
        self.assertEqual(body["reason"], "Conflict")
        self.assertIn("the object has been modified", body["message"])
        fresh = self.co.get_namespaced_custom_object(G, V, self.ns, P, "a")
        fresh["status"] = {"phase": "Succeeded"}
        fresh["spec"]["targetVersion"] = "ignored"
        out = self.co.replace_namespaced_custom_object_status(G, V, self.ns, P, "a", fresh)
        self.assertEqual((out["status"]["phase"], out["spec"]["targetVersion"], out["metadata"]["generation"]), ("Succeeded", "v2", 2))

    def apply(self, name, body, subresource="", force=False):
        path = "/apis/olympus.io/v1alpha1/namespaces/{ns}/schemaupgrades/%s%s" % (name, "/" + subresource if subresource else "")
        return self.co.api_client.call_api(
            path, "PATCH", {"ns": self.ns}, query_params=[("fieldManager", "schema-upgrade")] + ([("force", "true")] if force else []),
            header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
            body=json.dumps(body), auth_settings=["BearerToken"], response_type="object", _return_http_data_only=True)

    def test_server_side_apply_of_status_by_the_controller(self):
        self.create(su("a"))
        cond = {"type": "Ready", "status": "False", "reason": "Planning", "message": "planning",
                "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}
        out = self.apply("a", {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade", "metadata": {"name": "a"},
                               "status": {"phase": "Planning", "conditions": [cond]}}, "status", force=True)
        self.assertEqual(out["status"]["phase"], "Planning")
        self.assertEqual(out["metadata"]["generation"], 1)
        entry = [m for m in out["metadata"]["managedFields"] if m["manager"] == "schema-upgrade"]
        self.assertEqual([(m["operation"], m.get("subresource")) for m in entry], [("Apply", "status")])
        self.assertIn('k:{"type":"Ready"}', entry[0]["fieldsV1"]["f:status"]["f:conditions"])
        # Applying again without phase removes it (the manager owned it); conditions merge by type.
        out = self.apply("a", {"apiVersion": "olympus.io/v1alpha1", "kind": "SchemaUpgrade", "metadata": {"name": "a"},
                               "status": {"conditions": [dict(cond, status="True", reason="Succeeded")]}}, "status", force=True)
        self.assertNotIn("phase", out["status"])
        self.assertEqual([(c["type"], c["status"]) for c in out["status"]["conditions"]], [("Ready", "True")])
        self.assertEqual(out["spec"]["targetVersion"], "v1")

    def test_no_op_write_keeps_resource_version(self):
        obj = self.create(su("a"))
        again = self.co.patch_namespaced_custom_object(G, V, self.ns, P, "a", {"spec": {"targetVersion": "v1"}})
        self.assertEqual(again["metadata"]["resourceVersion"], obj["metadata"]["resourceVersion"])

    def test_422_causes_name_the_field(self):
        bad = su("a", version="has space")
        del bad["spec"]["database"]
        with self.assertRaises(self.client.exceptions.ApiException) as cm:
            self.create(bad)
        self.assertEqual(cm.exception.status, 422)
        body = json.loads(cm.exception.body)
        self.assertEqual(body["reason"], "Invalid")
        self.assertEqual(sorted((c["field"], c["reason"]) for c in body["details"]["causes"]),
                         [("spec.database", "FieldValueRequired"), ("spec.targetVersion", "FieldValueInvalid")])

    def test_create_existing_is_409_already_exists(self):
        self.create(su("a"))
        with self.assertRaises(self.client.exceptions.ApiException) as cm:
            self.create(su("a"))
        self.assertEqual((cm.exception.status, json.loads(cm.exception.body)["reason"]), (409, "AlreadyExists"))

    def test_strategic_merge_patch_merges_containers_by_name(self):
        apps = self.client.AppsV1Api(self.api)
        dep = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "app:v1"}, {"name": "sidecar", "image": "proxy:1"}]}}}}
        apps.create_namespaced_deployment(self.ns, dep)
        out = apps.patch_namespaced_deployment("web", self.ns, {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}})
        self.assertEqual([(c.name, c.image) for c in out.spec.template.spec.containers], [("app", "app:v2"), ("sidecar", "proxy:1")])
        self.assertEqual(out.metadata.generation, 2)
        with self.assertRaises(self.client.exceptions.ApiException) as cm:
            self.co.api_client.call_api("/apis/olympus.io/v1alpha1/namespaces/{ns}/schemaupgrades/x", "PATCH", {"ns": self.ns},
                                        header_params={"Content-Type": "application/strategic-merge-patch+json"},
                                        body={}, auth_settings=["BearerToken"])
        self.assertEqual(cm.exception.status, 415, "custom resources do not take strategic merge patches")

    def test_leases_for_leader_election(self):
        coord = self.client.CoordinationV1Api(self.api)
        lease = coord.create_namespaced_lease(self.ns, {"metadata": {"name": "schema-upgrade"}, "spec": {
            "holderIdentity": "pod-a", "leaseDurationSeconds": 15, "acquireTime": "2026-01-01T00:00:00.000000Z",
            "renewTime": "2026-01-01T00:00:00.000000Z", "leaseTransitions": 0}})
        lease.spec.holder_identity = "pod-b"
        coord.replace_namespaced_lease("schema-upgrade", self.ns, lease)
        lease.spec.holder_identity = "pod-c"  # still carries the old resourceVersion
        with self.assertRaises(self.client.exceptions.ApiException) as cm:
            coord.replace_namespaced_lease("schema-upgrade", self.ns, lease)
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(coord.read_namespaced_lease("schema-upgrade", self.ns).spec.holder_identity, "pod-b")

    def test_events_v1_read_back_as_core_events_by_field_selector(self):
        obj = self.create(su("a"))
        ev = self.client.EventsV1Api(self.api)
        ev.create_namespaced_event(self.ns, {"metadata": {"generateName": "a."}, "eventTime": "2026-01-01T00:00:00.000000Z",
                                             "reportingController": "olympus.io/schema-upgrade", "reportingInstance": "c-0",
                                             "action": "Migrate", "reason": "Applied", "type": "Normal", "note": "applied 1",
                                             "regarding": {"kind": "SchemaUpgrade", "name": "a", "namespace": self.ns, "uid": obj["metadata"]["uid"]}})
        got = self.core.list_namespaced_event(self.ns, field_selector="involvedObject.name=a,involvedObject.uid=%s" % obj["metadata"]["uid"])
        self.assertEqual([(e.reason, e.message, e.reporting_component) for e in got.items], [("Applied", "applied 1", "olympus.io/schema-upgrade")])
        self.assertEqual(self.core.list_namespaced_event(self.ns, field_selector="involvedObject.name=b").items, [])

    def raw(self, path, accept="application/json"):
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (self.emu.port, path),
                                     headers={"Authorization": "Bearer " + self.emu.token(), "Accept": accept})
        ctx = ssl.create_default_context(cafile=os.path.join(self.emu.dir, "ca.crt"))
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.headers.get("Content-Type"), json.loads(r.read())

    def test_discovery_legacy_and_aggregated(self):
        ctype, groups = self.raw("/apis")
        self.assertEqual(groups["kind"], "APIGroupList")
        olympus = [g for g in groups["groups"] if g["name"] == "olympus.io"]
        self.assertEqual(olympus[0]["preferredVersion"]["groupVersion"], "olympus.io/v1alpha1")
        _, res = self.raw("/apis/olympus.io/v1alpha1")
        self.assertEqual(sorted(r["name"] for r in res["resources"]), ["schemaupgrades", "schemaupgrades/status"])
        ctype, agg = self.raw("/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
        self.assertEqual(ctype, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        self.assertEqual(agg["kind"], "APIGroupDiscoveryList")
        su_res = [r for g in agg["items"] if g["metadata"].get("name") == "olympus.io" for v in g["versions"] for r in v["resources"]]
        self.assertEqual(su_res[0]["scope"], "Namespaced")
        self.assertEqual(su_res[0]["shortNames"], ["su"])
        self.assertEqual(su_res[0]["subresources"][0]["subresource"], "status")
        _, core = self.raw("/api", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        self.assertIn("namespaces", [r["resource"] for r in core["items"][0]["versions"][0]["resources"]])

    def test_openapi_v2_and_v3_carry_the_crd_schema(self):
        _, root = self.raw("/openapi/v3")
        url = root["paths"]["apis/olympus.io/v1alpha1"]["serverRelativeURL"]
        _, doc = self.raw(url)
        schema = doc["components"]["schemas"]["io.olympus.v1alpha1.SchemaUpgrade"]
        self.assertEqual(schema["x-kubernetes-group-version-kind"], [{"group": "olympus.io", "version": "v1alpha1", "kind": "SchemaUpgrade"}])
        self.assertEqual(schema["properties"]["spec"]["required"], ["targetVersion", "database", "migrations"])
        patch = doc["paths"]["/apis/olympus.io/v1alpha1/namespaces/{namespace}/schemaupgrades/{name}"]["patch"]
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])
        _, v2 = self.raw("/openapi/v2")
        self.assertIn("targetVersion", v2["definitions"]["io.olympus.v1alpha1.SchemaUpgrade"]["properties"]["spec"]["properties"])

    def inject(self, query):
        req = urllib.request.Request("https://127.0.0.1:%d/emulator/fail?%s" % (self.emu.port, query),
                                     method="POST", headers={"Authorization": "Bearer " + self.emu.token()})
        ctx = ssl.create_default_context(cafile=os.path.join(self.emu.dir, "ca.crt"))
        urllib.request.urlopen(req, context=ctx).read()

    def test_injected_failures_for_client_retry_tests(self):
        self.inject("code=500&count=1")
        with self.assertRaises(self.client.exceptions.ApiException) as cm:
            self.co.list_namespaced_custom_object(G, V, self.ns, P)
        self.assertEqual((cm.exception.status, json.loads(cm.exception.body)["reason"]), (500, "InternalError"))
        self.assertEqual(self.co.list_namespaced_custom_object(G, V, self.ns, P)["items"], [])
        # 429 with Retry-After: urllib3 (under the Python client) waits and retries by itself.
        self.inject("code=429&count=1&retryAfter=1")
        self.assertEqual(self.co.list_namespaced_custom_object(G, V, self.ns, P)["items"], [])
        # The injected answer was consumed by that retry: a raw request (no retries) goes through.
        self.assertEqual(self.raw("/apis/olympus.io/v1alpha1/namespaces/%s/schemaupgrades" % self.ns)[1]["items"], [])

    def test_list_pagination_with_continue(self):
        for i in range(5):
            self.create(su("n%d" % i))
        names, cont = [], None
        while True:
            page = self.co.list_namespaced_custom_object(G, V, self.ns, P, limit=2, _continue=cont)
            names += [i["metadata"]["name"] for i in page["items"]]
            cont = page["metadata"].get("continue")
            if not cont:
                break
        self.assertEqual(names, ["n0", "n1", "n2", "n3", "n4"])


if __name__ == "__main__":
    unittest.main()
