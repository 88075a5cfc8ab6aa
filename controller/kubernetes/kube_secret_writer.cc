// Kubernetes SecretWriter (see kube_secret_writer.h).
#include "controller/kubernetes/kube_secret_writer.h"

#include <cpprest/json.h>

#include "controller/kubernetes/kube_secret_resolver.h"
#include "kube/base64.h"
#include "kube/owner_reference.h"
#include "reconcilers/base/secrets.h"

namespace su::kube {
namespace {

using web::json::value;

// The labels of the migration Jobs (reconcilers/runtimes/kubernetes/kube_job.h): `kubectl get
// secrets -l olympus.io/schemaupgrade=<name>` finds what the controller made for a resource.
constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
constexpr const char* kManagedBy = "schema-upgrade-operator";
constexpr const char* kResourceLabel = "olympus.io/schemaupgrade";
constexpr const char* kResourceUidLabel = "olympus.io/schemaupgrade-uid";
constexpr const char* kResourceAnnotation = "olympus.io/resource";

// A label value (at most 63 characters): the value itself when it fits, else a prefix and a hash.
std::string LabelValue(const std::string& s) {
  if (s.size() <= 63) return s;
  std::string head = s.substr(0, 52);
  while (!head.empty() && !std::isalnum(static_cast<unsigned char>(head.back()))) head.pop_back();
  return head + "-" + Sha256Hex(s).substr(0, 10);
}

std::string Field(const value& v, std::initializer_list<const char*> path) {
  const value* at = &v;
  for (const char* p : path) {
    if (!at->is_object() || !at->has_field(p)) return "";
    at = &at->at(p);
  }
  return at->is_string() ? at->as_string() : "";
}

class KubeSecretWriter : public SecretWriter {
 public:
  explicit KubeSecretWriter(KubeApi* api) : api_(api) {}

  Status Put(const SchemaUpgrade& su, const std::string& name, const std::string& key,
             const std::string& data) override {
    RegisterSecret(data);
    const std::string what = "Secret " + su.namespace_ + "/" + name;
    const std::string body = Body(su, name, key, data).serialize();
    for (int round = 0; round < 5; ++round) {
      auto made = api_->Create(ResourcePath{kSecrets, su.namespace_, "", ""}, body);
      if (made.ok()) return Status::Ok();
      if (!made.error().IsAlreadyExists()) return FromApi(made.error(), "creating " + what, "create");
      // A leftover: replaced when it is ours.
      const ResourcePath path{kSecrets, su.namespace_, name, ""};
      auto got = api_->Get(path);
      if (!got.ok()) {
        if (got.error().IsNotFound()) continue;
        return FromApi(got.error(), "reading " + what, "get");
      }
      std::string uid;
      SU_RETURN_IF_ERROR(Ours(su, *got, what, &uid));
      DeleteOptions del;
      del.precondition_uid = uid;
      auto d = api_->Delete(path, del);
      if (!d.ok() && !d.error().IsNotFound() && !d.error().IsConflict()) {
        return FromApi(d.error(), "deleting the leftover " + what, "delete");
      }
    }
    return Status::Error(Code::kUnavailable, "creating " + what + ": it kept coming back while replaced; retried");
  }

  Status Delete(const SchemaUpgrade& su, const std::string& name) override {
    const std::string what = "Secret " + su.namespace_ + "/" + name;
    const ResourcePath path{kSecrets, su.namespace_, name, ""};
    auto got = api_->Get(path);
    if (!got.ok()) return got.error().IsNotFound() ? Status::Ok() : FromApi(got.error(), "reading " + what, "get");
    std::string uid;
    SU_RETURN_IF_ERROR(Ours(su, *got, what, &uid));
    DeleteOptions del;
    del.precondition_uid = uid;
    auto d = api_->Delete(path, del);
    if (!d.ok() && !d.error().IsNotFound()) return FromApi(d.error(), "deleting " + what, "delete");
    return Status::Ok();
  }

 private:
  static value Body(const SchemaUpgrade& su, const std::string& name, const std::string& key, const std::string& data) {
    value labels = value::object();
    labels[kManagedByLabel] = value::string(kManagedBy);
    labels[kResourceLabel] = value::string(LabelValue(su.name));
    if (!su.uid.empty()) labels[kResourceUidLabel] = value::string(LabelValue(su.uid));
    value annotations = value::object();
    annotations[kResourceAnnotation] = value::string(su.namespace_ + "/" + su.name);
    value meta = value::object();
    meta["name"] = value::string(name);
    meta["namespace"] = value::string(su.namespace_);
    meta["labels"] = labels;
    meta["annotations"] = annotations;
    if (!su.uid.empty()) meta["ownerReferences"] = kube::ControllerOwnerReferences(kApiVersion, kKind, su.name, su.uid);
    value d = value::object();
    d[key] = value::string(Base64Encode(data));
    value secret = value::object();
    secret["apiVersion"] = value::string("v1");
    secret["kind"] = value::string("Secret");
    secret["metadata"] = meta;
    secret["type"] = value::string("Opaque");
    secret["data"] = d;
    return secret;
  }

  // Ok with its uid when the Secret (JSON) is su's; kFailed naming it otherwise.
  static Status Ours(const SchemaUpgrade& su, const std::string& json, const std::string& what, std::string* uid) {
    value s;
    try {
      s = value::parse(json);
    } catch (const std::exception&) {
      return Status::Error(Code::kUnavailable, "reading " + what + ": the API answered with no JSON object");
    }
    if (Field(s, {"metadata", "labels", kManagedByLabel}) != kManagedBy ||
        Field(s, {"metadata", "annotations", kResourceAnnotation}) != su.namespace_ + "/" + su.name) {
      return Status::Failed(what + " exists but was not made by this controller for " + su.namespace_ + "/" + su.name +
                            "; the controller keeps the rehearsal copy's DSN there: delete or rename it (kubectl "
                            "delete secret " + Field(s, {"metadata", "name"}) + " -n " + su.namespace_ + ")");
    }
    *uid = Field(s, {"metadata", "uid"});
    return Status::Ok();
  }

  static Status FromApi(const ApiError& e, const std::string& doing, const std::string& verb) {
    if (e.IsForbidden() || e.IsUnauthorized()) {
      return Status::Failed(doing + ": " + e.Describe() + "; grant the controller's ServiceAccount `" + verb +
                            "` on secrets (manifests/rbac.yaml, the chart's RBAC)");
    }
    Status s = e.ToStatus();
    const Code code = e.IsRetryable() || e.http_status == 409 ? Code::kUnavailable : s.code();
    return Status::Error(code, doing + ": " + e.Describe());
  }

  KubeApi* api_;
};

}  // namespace

std::unique_ptr<SecretWriter> NewKubeSecretWriter(KubeApi* api) { return std::make_unique<KubeSecretWriter>(api); }

}  // namespace su::kube
