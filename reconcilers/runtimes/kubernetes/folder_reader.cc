// Migration files from the target image (a Job) or a ConfigMap (see kube_folder_reader.h).
#include <cstdio>

#include "kube/base64.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/runtimes/kubernetes/kube_folder_reader.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "reconcilers/runtimes/kubernetes/workload_json.h"

namespace su {
namespace {

using kube_runtime::At;
using kube_runtime::Str;
using kube_runtime::value;

std::string Mib(size_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%zu bytes (%.2f MiB)", bytes, static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

const kube::GroupVersionResource kPodsForImage{"", "v1", "pods", true};

bool SafeRel(const std::string& rel) {
  if (rel.empty() || rel[0] == '/') return false;
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string part = rel.substr(i, j - i);
    if (part.empty() || part == "." || part == "..") return false;
    i = j + 1;
  }
  return true;
}

class KubeFolderReader : public MigrationFolderReader {
 public:
  explicit KubeFolderReader(KubeFolderReaderOptions o) : o_(std::move(o)), api_(o_.api) {
    if (!o_.clock) o_.clock = RealClock();
  }

  Result<std::shared_ptr<const MigrationFolder>> FromImage(const SchemaUpgrade& su, const std::string& image) override {
    const std::string where = su.namespace_ + "/" + su.name;
    if (o_.controller_image.empty()) {
      return Status::Invalid(where + ": spec.migrations.source image reads the folder with a Job of the controller's "
                             "own image, which is not known: start the controller with --controller-image IMAGE "
                             "(or $SU_CONTROLLER_IMAGE)");
    }
    KubeJobOptions jo;
    jo.api = api_;
    jo.clock = o_.clock;
    jo.ns = su.namespace_;
    jo.name = su.name;
    jo.uid = su.uid;
    jo.workload = su.workload;  // pull secrets, service account, node placement, the app's securityContext
    jo.ttl_after_finished = o_.job_ttl;
    jo.default_deadline = o_.job_deadline;
    jo.poll_interval = o_.poll_interval;
    jo.start_grace = o_.start_grace;
    ContainerRunSpec spec;
    spec.name = "read-migrations";
    spec.image = o_.controller_image;
    spec.args = {"__print-folder", "--engine", su.migrations.engine, kFolderJobMount};
    spec.folder_from_image = ContainerRunSpec::FolderFromImage{image, su.migrations.path, kFolderJobMount};
    const std::string what = "reading " + su.migrations.path + " from image " + image + " (spec.migrations.source image)";
    LogInfo("migrations.read_image", {{"resource", where}, {"image", image}, {"path", su.migrations.path}});
    auto rt = NewKubeJobRuntime(jo);
    SU_ASSIGN_OR_RETURN(ProcessResult r, rt->RunOnce(spec));
    if (!r.Succeeded()) {
      const std::string tail = r.Tail(8);
      if (r.out.find("init container " + std::string(kJobCopyContainer)) != std::string::npos) {
        return Status::Invalid(what + ": the folder could not be copied out of the image (is " + su.migrations.path +
                               " there, and does the image have sh and cp?): " + tail +
                               "; fix spec.migrations.path, or use source configMap or controller");
      }
      return Status::Error(r.exit_code == 2 ? Code::kInvalidArgument : Code::kFailed, what + ": " + tail);
    }
    SU_ASSIGN_OR_RETURN(MigrationFolder f, DecodeMigrationFolder(r.out, su.migrations.engine, what));
    f.origin = "image:" + image + ":" + su.migrations.path;
    LogInfo("migrations.read_image_done", {{"resource", where}, {"image", image},
                                          {"files", std::to_string(f.files.size())}, {"bytes", std::to_string(f.bytes)}});
    return std::shared_ptr<const MigrationFolder>(std::make_shared<MigrationFolder>(std::move(f)));
  }

  Result<std::shared_ptr<const MigrationFolder>> FromConfigMap(const SchemaUpgrade& su) override {
    const std::string cm = su.namespace_ + "/" + su.migrations.config_map_name;
    const std::string what = "ConfigMap " + cm + " (spec.migrations.configMapRef)";
    auto got = api_->Get(kube::ResourcePath{kConfigMaps, su.namespace_, su.migrations.config_map_name});
    if (!got.ok()) {
      if (got.error().IsNotFound()) {
        return Status::Invalid(what + " not found: create it in namespace " + su.namespace_ +
                               " (kubectl create configmap " + su.migrations.config_map_name +
                               " --from-file=DIR" + (su.migrations.engine == "drizzle" ? " --from-file=DIR/meta/_journal.json" : "") +
                               ")");
      }
      Status s = got.error().ToStatus();
      return Status::Error(s.code(), what + ": " + got.error().Describe());
    }
    SU_ASSIGN_OR_RETURN(value obj, kube_runtime::Parse(*got, what));
    std::map<std::string, std::string> keys;
    size_t total = 0;
    if (const value* data = At(obj, {"data"}); data && data->is_object()) {
      for (const auto& [k, v] : data->as_object()) {
        if (!v.is_string()) continue;
        keys[k] = v.as_string();
        total += k.size() + keys[k].size();
      }
    }
    if (const value* bin = At(obj, {"binaryData"}); bin && bin->is_object()) {
      for (const auto& [k, v] : bin->as_object()) {
        std::string decoded;
        if (!v.is_string() || !kube::Base64Decode(v.as_string(), &decoded)) {
          return Status::Invalid(what + ": binaryData key " + k + " is not base64");
        }
        total += k.size() + decoded.size();
        keys[k] = std::move(decoded);
      }
    }
    if (total > kConfigMapLimitBytes) {
      return Status::Invalid(what + " holds " + Mib(total) + ", more than a ConfigMap's 1 MiB limit (" +
                             Mib(kConfigMapLimitBytes) + "); the API server may have refused part of it: split the "
                             "migrations or use source image or controller");
    }
    MigrationFolder f;
    f.origin = "configMap:" + cm;
    std::vector<std::string> wanted = su.migrations.config_map_keys;
    if (wanted.empty()) {
      for (const auto& [k, v] : keys) wanted.push_back(k);
    }
    for (const auto& k : wanted) {
      auto it = keys.find(k);
      if (it == keys.end()) {
        return Status::Invalid(what + " has no key " + k + " (listed in spec.migrations.configMapRef.keys); it holds " +
                               std::to_string(keys.size()) + " keys, " + Mib(total));
      }
      std::string rel = (su.migrations.engine == "drizzle" && k == "_journal.json") ? "meta/_journal.json" : k;
      if (!IsMigrationFileFor(su.migrations.engine, rel)) continue;  // READMEs, snapshots
      f.bytes += it->second.size();
      f.files[rel] = it->second;
    }
    if (f.files.empty()) {
      return Status::Invalid(what + " holds no " + su.migrations.engine + " migration files (*.sql" +
                             (su.migrations.engine == "drizzle" ? ", _journal.json" : "") + ")");
    }
    return std::shared_ptr<const MigrationFolder>(std::make_shared<MigrationFolder>(std::move(f)));
  }

 private:
  KubeFolderReaderOptions o_;
  kube::KubeApi* api_;  // o_.api, named so tests/integration/deploy/rbac_calls.py reads the calls
};

}  // namespace

Result<MigrationFolder> DecodeMigrationFolder(const std::string& log, const std::string& engine,
                                              const std::string& what) {
  static const std::string kBegin = "schema-upgrade-folder v1 ";
  size_t at = log.rfind(kBegin);
  if (at == std::string::npos || (at > 0 && log[at - 1] != '\n')) {
    return Status::Failed(what + ": the Job's log holds no folder (no \"schema-upgrade-folder v1\" line): is the "
                          "controller image (--controller-image) a schema-upgrade of this version?");
  }
  size_t nl = log.find('\n', at);
  if (nl == std::string::npos) return Status::Failed(what + ": the Job's log ends inside the folder's header (cut)");
  unsigned long long size = 0;
  char sha[65] = {0};
  if (std::sscanf(log.c_str() + at + kBegin.size(), "%llu %64s", &size, sha) != 2 || std::string(sha).size() != 64) {
    return Status::Failed(what + ": the folder's header line is malformed");
  }
  const std::string json = log.substr(nl + 1, size);
  if (json.size() < size) {
    return Status::Failed(what + ": the Job's log was cut: " + std::to_string(json.size()) + " of " +
                          std::to_string(size) + " bytes of the folder arrived (a rotated container log?); "
                          "nothing was used");
  }
  if (Sha256Hex(json) != sha) {
    return Status::Failed(what + ": the folder in the Job's log does not match its SHA-256 (altered or interleaved "
                          "output); nothing was used");
  }
  SU_ASSIGN_OR_RETURN(value doc, kube_runtime::Parse(json, what));
  const value* files = At(doc, {"files"});
  if (!files || !files->is_array()) return Status::Failed(what + ": the folder has no files list");
  MigrationFolder f;
  f.origin = Str(doc, {"origin"});
  for (const auto& e : files->as_array()) {
    const std::string rel = Str(e, {"path"});
    if (!SafeRel(rel) || !IsMigrationFileFor(engine, rel)) {
      return Status::Invalid(what + ": " + rel + " is not a " + engine + " migration file");
    }
    std::string content;
    if (!kube::Base64Decode(Str(e, {"base64"}), &content)) {
      return Status::Failed(what + ": " + rel + " is not valid base64");
    }
    f.bytes += content.size();
    f.files[rel] = std::move(content);
  }
  return f;
}

std::string OwnPodImage(kube::KubeApi* api, const std::string& ns, const std::string& pod) {
  kube::ListOptions lo;
  lo.field_selector = "metadata.name=" + pod;
  auto pods = api->List(kube::ResourcePath{kPodsForImage, ns}, lo);
  if (!pods.ok() || pods->items.empty()) return "";
  auto p = kube_runtime::Parse(pods->items[0], "pod " + ns + "/" + pod);
  if (!p.ok()) return "";
  const value* cs = At(*p, {"spec", "containers"});
  if (!cs || !cs->is_array() || cs->as_array().size() == 0) return "";
  for (const auto& c : cs->as_array()) {
    const std::string name = Str(c, {"name"});
    if (name == "controller" || name == "manager") return Str(c, {"image"});
  }
  return Str(cs->as_array().at(0), {"image"});
}

std::unique_ptr<MigrationFolderReader> NewKubeFolderReader(KubeFolderReaderOptions options) {
  return std::make_unique<KubeFolderReader>(std::move(options));
}

}  // namespace su
