# RBAC narrowed to exactly what the code calls: every KubeApi call in the C++ sources (read by
# rbac_calls.py, following the convention written there and in docs/kubernetes.md) has a rule in
# manifests/rbac.yaml and in the chart's rendered Roles, and no rule there lacks a call. Lease
# rules live in a Role in the controller's namespace; the rest in the ClusterRole, or with the
# chart's watchNamespaces in a Role in each watched namespace.
# The self-test at the end proves the reader on a small source tree of its own.
import os
import shutil
import tempfile
import textwrap
import unittest

from chart import SOURCE_DIR, manifest_documents, render
from rbac_calls import granted_rules, used_rules

LEASES = ("coordination.k8s.io", "leases")
CONTROLLER_NS = "schema-upgrade-system"


def rule_yaml(group, resource, verb):
    return '- apiGroups: ["%s"]\n  resources: ["%s"]\n  verbs: ["%s"]' % (group, resource, verb)


class RbacCallsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.used, cls.unreadable = used_rules(SOURCE_DIR)
        _, default = render([])
        _, watching = render(["--set", "watchNamespaces={ciam,billing}"])
        cls.grants = {
            "manifests/rbac.yaml": (granted_rules(manifest_documents("rbac.yaml")), None),
            "chart (default values)": (granted_rules(default), None),
            "chart (watchNamespaces={ciam,billing})": (granted_rules(watching), {"ciam", "billing"}),
        }

    def test_every_call_is_readable(self):
        self.assertEqual([c.error for c in self.unreadable], [])

    def test_every_call_is_granted_where_it_is_needed(self):
        self.assertTrue(self.used, "no KubeApi call found in the sources: the reader is broken")
        for where, (granted, watched) in self.grants.items():
            for (group, resource, verb), calls in sorted(self.used.items()):
                with self.subTest(rbac=where, rule=(group, resource, verb)):
                    holders = granted.get((group, resource, verb), [])
                    sites = ", ".join(c.where() for c in calls)
                    if not holders:
                        self.fail("%s calls %s on %s%s, but %s grants no rule for it; add\n%s"
                                  % (sites, verb, resource, "." + group if group else "", where,
                                     rule_yaml(group, resource, verb)))
                    if (group, resource.split("/")[0]) == LEASES:
                        self.assertEqual(holders, [("Role", CONTROLLER_NS, holders[0][2])],
                                         "%s: leases belong in one Role in the controller's namespace" % where)
                    elif watched:
                        self.assertEqual({ns for kind, ns, _ in holders if kind == "Role"}, watched,
                                         "%s: %s %s must be granted in each watched namespace" % (where, verb, resource))
                        self.assertEqual([h for h in holders if h[0] == "ClusterRole"], [])
                    else:
                        self.assertEqual([h[0] for h in holders], ["ClusterRole"],
                                         "%s: %s %s belongs in the ClusterRole" % (where, verb, resource))

    def test_nothing_is_granted_that_no_call_uses(self):
        for where, (granted, _) in self.grants.items():
            for (group, resource, verb), holders in sorted(granted.items()):
                with self.subTest(rbac=where, rule=(group, resource, verb)):
                    if (group, resource, verb) not in self.used:
                        self.fail("%s grants %s on %s%s (%s), but no KubeApi call in the sources uses it: remove it "
                                  "(or, if a call does, write it as docs/kubernetes.md, RBAC, says so it can be read)"
                                  % (where, verb, resource, "." + group if group else "", "/".join(filter(None, holders[0]))))


class ReaderSelfTest(unittest.TestCase):
    """rbac_calls.py on a source tree written here: each way of naming a resource is read."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="rbac-reader-")
        self.addCleanup(shutil.rmtree, self.root)

    def write(self, path, text):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(textwrap.dedent(text))

    def test_conventions(self):
        self.write("kube/api.h", """
            inline const GroupVersionResource kSchemaUpgrades{"olympus.io", "v1alpha1", "schemaupgrades", true};
            struct InformerOptions { GroupVersionResource gvr = kSchemaUpgrades; };
            """)
        self.write("kube/informer.cc", """
            Informer::Informer(KubeApi* api, InformerOptions options) : api_(api) {}
            void Informer::Run() {
              const ResourcePath path{options_.gvr, ns, "", ""};
              api_->List(path, {});   // api_ is declared in informer.h
              api_->Watch(path, wo, handler);
            }
            """)
        self.write("kube/informer.h", "class Informer { KubeApi* const api_; };\n")
        self.write("controller/kubernetes/lease.cc", """
            const kube::GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases", true};
            kube::ResourcePath Elector::Path() const { return {kLeases, ns_, name_, ""}; }
            void Elector::Try(kube::KubeApi& api) {
              auto got = api.Get(Path());
              kube::ResourcePath collection = Path();
              collection.name.clear();
              api.Create(collection, body);
            }
            """)
        self.write("controller/kubernetes/status.cc", """
            void Store::Save(std::shared_ptr<kube::KubeApi> client) {
              ResourcePath p{kSchemaUpgrades, ns, name};
              p.subresource = "status";
              client->Patch(p, PatchType::kMerge, body);
              // client->Delete(p);   a comment is not a call
              client->Update(SomethingElse(), body);
            }
            """)
        self.write("controller/kubernetes/decorator.cc", """
            class Counting : public KubeApi {};
            ApiResult<std::string> Counting::Get(const ResourcePath& p) { return inner_->Get(p); }
            KubeApi* inner_;
            """)
        self.write("tests/unit/fake.cc", "void F(KubeApi* api) { api->Delete(ResourcePath{kSchemaUpgrades}); }\n")
        used, unreadable = used_rules(self.root)
        where = {k: sorted(c.where() for c in v) for k, v in used.items()}
        self.assertEqual(where, {
            ("olympus.io", "schemaupgrades", "list"): ["kube/informer.cc:5"],
            ("olympus.io", "schemaupgrades", "watch"): ["kube/informer.cc:6"],
            ("coordination.k8s.io", "leases", "get"): ["controller/kubernetes/lease.cc:5"],
            ("coordination.k8s.io", "leases", "create"): ["controller/kubernetes/lease.cc:8"],
            ("olympus.io", "schemaupgrades/status", "patch"): ["controller/kubernetes/status.cc:5"],
        })
        self.assertEqual(len(unreadable), 1)
        self.assertIn("controller/kubernetes/status.cc:7: `client->Update(SomethingElse(), body)`: cannot tell which "
                      "resource", unreadable[0].error)


if __name__ == "__main__":
    unittest.main()
