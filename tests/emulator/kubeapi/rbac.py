# RBAC authorization for the identities given with --identity (the admin token and the client
# certificate are system:masters and bypass it, as on a real cluster). Rules come from the stored
# ClusterRoles, Roles, ClusterRoleBindings and RoleBindings, evaluated as the RBAC authorizer does:
# apiGroups / resources (incl. "resource/subresource") / verbs / resourceNames, "*" wildcards,
# ServiceAccount, User and Group subjects (service accounts are in system:serviceaccounts,
# system:serviceaccounts:<ns> and system:authenticated). Denials are 403 Forbidden worded like
# kube-apiserver's ("User "x" cannot list resource "y" in API group "g" in the namespace "n"").
from store import ApiError


def _groups(user):
    groups = ["system:authenticated"]
    parts = user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        groups += ["system:serviceaccounts", "system:serviceaccounts:" + parts[2]]
    return groups


def _subject_matches(subj, user, groups):
    kind = subj.get("kind")
    if kind == "ServiceAccount":
        return user == "system:serviceaccount:%s:%s" % (subj.get("namespace", ""), subj.get("name", ""))
    if kind == "User":
        return subj.get("name") == user
    if kind == "Group":
        return subj.get("name") in groups
    return False


def _rule_allows(rule, verb, group, resource, name):
    def has(lst, v):
        return "*" in (lst or []) or v in (lst or [])
    if not has(rule.get("verbs"), verb) or not has(rule.get("apiGroups"), group):
        return False
    res = rule.get("resources") or []
    if not ("*" in res or resource in res or ("/" in resource and "*/" + resource.split("/", 1)[1] in res)):
        return False
    names = rule.get("resourceNames")
    return not names or (name is not None and name in names)


def _objects(store, group, resource):
    t = store.find_type(group, "v1", resource)
    objs, _ = store.list(t, "")
    return objs


def allowed(store, user, verb, group, resource, namespace, name):
    groups = _groups(user)
    roles = {("", r["metadata"]["name"]): r for r in _objects(store, "rbac.authorization.k8s.io", "clusterroles")}
    for r in _objects(store, "rbac.authorization.k8s.io", "roles"):
        roles[(r["metadata"]["namespace"], r["metadata"]["name"])] = r

    def rules_of(ref, ns):
        role = roles.get(("", ref.get("name"))) if ref.get("kind") == "ClusterRole" else roles.get((ns, ref.get("name")))
        return (role or {}).get("rules") or []

    for b in _objects(store, "rbac.authorization.k8s.io", "clusterrolebindings"):
        if any(_subject_matches(s, user, groups) for s in b.get("subjects") or []):
            if any(_rule_allows(r, verb, group, resource, name) for r in rules_of(b.get("roleRef") or {}, "")):
                return True
    if namespace:
        for b in _objects(store, "rbac.authorization.k8s.io", "rolebindings"):
            if b["metadata"].get("namespace") != namespace:
                continue
            if any(_subject_matches(s, user, groups) for s in b.get("subjects") or []):
                if any(_rule_allows(r, verb, group, resource, name) for r in rules_of(b.get("roleRef") or {}, namespace)):
                    return True
    return False


def forbidden(user, verb, t, resource, namespace, name):
    where = 'in the namespace "%s"' % namespace if namespace else "at the cluster scope"
    subject = '%s "%s"' % (t.group_resource(), name) if name else t.group_resource()
    return ApiError(403, "Forbidden", '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        subject, user, verb, resource, t.group, where), {"name": name or "", "group": t.group, "kind": t.resource})
