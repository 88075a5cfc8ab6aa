# The resource types the emulator serves: a table of built-in kinds (stored generically, without
# per-kind validation or defaulting) plus the kinds custom resource definitions add at run time.
# One ResourceType describes one group/version/resource and everything discovery, OpenAPI, the
# table printer and the store need to know about it.

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ResourceType:
    def __init__(self, group, version, resource, kind, namespaced, short_names=(), categories=(),
                 status=False, generation=False, crd=None, singular=None, list_kind=None, verbs=None):
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.status = status          # has a status subresource
        self.generation = generation  # metadata.generation is maintained
        self.crd = crd                # the CustomResourceDefinition object serving it, if any
        self.singular = singular or kind.lower()
        self.list_kind = list_kind or kind + "List"
        self.verbs = verbs or ALL_VERBS

    @property
    def api_version(self):
        return self.version if self.group == "" else self.group + "/" + self.version

    @property
    def storage_key(self):
        # Versions of one group/resource share storage (events are special: see store.py).
        return (self.group, self.resource)

    def group_resource(self):
        return self.resource if self.group == "" else self.resource + "." + self.group

    def crd_version(self):
        if not self.crd:
            return None
        for v in self.crd["spec"]["versions"]:
            if v["name"] == self.version:
                return v
        return None

    def schema(self):
        v = self.crd_version()
        if not v:
            return None
        return (v.get("schema") or {}).get("openAPIV3Schema")


def _b(group, version, resource, kind, namespaced, **kw):
    return ResourceType(group, version, resource, kind, namespaced, **kw)


BUILTIN = [
    _b("", "v1", "namespaces", "Namespace", False, short_names=["ns"], status=True),
    _b("", "v1", "configmaps", "ConfigMap", True, short_names=["cm"]),
    _b("", "v1", "secrets", "Secret", True),
    _b("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=["sa"]),
    _b("", "v1", "services", "Service", True, short_names=["svc"], categories=["all"], status=True),
    _b("", "v1", "endpoints", "Endpoints", True, short_names=["ep"]),
    _b("", "v1", "pods", "Pod", True, short_names=["po"], categories=["all"], status=True),
    _b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, short_names=["pvc"], status=True),
    _b("", "v1", "events", "Event", True, short_names=["ev"]),
    _b("apps", "v1", "deployments", "Deployment", True, short_names=["deploy"], categories=["all"],
       status=True, generation=True),
    _b("apps", "v1", "statefulsets", "StatefulSet", True, short_names=["sts"], categories=["all"],
       status=True, generation=True),
    _b("apps", "v1", "daemonsets", "DaemonSet", True, short_names=["ds"], categories=["all"],
       status=True, generation=True),
    _b("apps", "v1", "replicasets", "ReplicaSet", True, short_names=["rs"], categories=["all"],
       status=True, generation=True),
    _b("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    _b("batch", "v1", "jobs", "Job", True, categories=["all"], status=True, generation=True),
    _b("batch", "v1", "cronjobs", "CronJob", True, short_names=["cj"], categories=["all"], status=True,
       generation=True),
    _b("coordination.k8s.io", "v1", "leases", "Lease", True),
    _b("events.k8s.io", "v1", "events", "Event", True, short_names=["ev"]),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _b("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, short_names=["pdb"],
       status=True, generation=True),
    _b("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, short_names=["netpol"],
       generation=True),
    _b("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
       short_names=["crd", "crds"], categories=["api-extensions"], status=True, generation=True),
]

# Lists whose items merge by key in strategic merge patches and server-side apply (built-in kinds;
# custom resources declare theirs with x-kubernetes-list-map-keys).
BUILTIN_LIST_KEYS = {
    "containers": ["name"], "initContainers": ["name"], "ephemeralContainers": ["name"],
    "env": ["name"], "volumes": ["name"], "volumeMounts": ["mountPath"], "ports": ["containerPort"],
    "imagePullSecrets": ["name"], "conditions": ["type"], "tolerations": None,
}


def crd_resource_types(crd):
    """The ResourceTypes a CustomResourceDefinition serves (one per served version)."""
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for v in spec.get("versions", []):
        if not v.get("served", True):
            continue
        subs = v.get("subresources") or {}
        out.append(ResourceType(
            spec["group"], v["name"], names["plural"], names["kind"], spec.get("scope") == "Namespaced",
            short_names=names.get("shortNames", []), categories=names.get("categories", []),
            status="status" in subs, generation=True, crd=crd, singular=names.get("singular"),
            list_kind=names.get("listKind")))
    return out
