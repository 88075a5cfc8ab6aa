// The migration Job's name and object (see kube_job.h): what it inherits from the workload's pod
// template, the restricted Pod Security defaults, the DSN by Secret reference only.
#include <algorithm>
#include <set>

#include "kube/owner_reference.h"
#include "reconcilers/base/process.h"
#include "reconcilers/base/sha256.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"
#include "reconcilers/runtimes/kubernetes/workload_json.h"

namespace su {
namespace {

using kube_runtime::At;
using kube_runtime::value;

// [a-z0-9-] only, no leading/trailing '-', at most max characters.
std::string DnsLabelPart(const std::string& s, size_t max) {
  std::string out;
  for (char c : s) {
    char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    out += ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) ? l : '-';
  }
  if (out.size() > max) out.resize(max);
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

// A label value (at most 63 characters): the name itself when it fits, else a prefix and a hash.
std::string LabelValue(const std::string& s) {
  if (s.size() <= 63) return s;
  std::string head = s.substr(0, 52);
  while (!head.empty() && !std::isalnum(static_cast<unsigned char>(head.back()))) head.pop_back();
  return head + "-" + Sha256Hex(s).substr(0, 10);
}

void CopyField(const value& from, value* to, const char* field) {
  if (from.is_object() && from.has_field(field) && !from.at(field).is_null()) (*to)[field] = from.at(field);
}

value Labels(const KubeJobOptions& o) {
  value l = value::object();
  l[kJobManagedByLabel] = value::string(kJobManagedBy);
  l[kJobResourceLabel] = value::string(LabelValue(o.name));
  if (!o.uid.empty()) l[kJobResourceUidLabel] = value::string(LabelValue(o.uid));
  return l;
}

}  // namespace

std::string MigrationJobName(const KubeJobOptions& o, const ContainerRunSpec& spec) {
  std::string what = o.ns + "/" + o.name + "\n" + spec.image + "\n" + spec.name + "\n";
  for (const auto& a : spec.entrypoint) what += a + '\0';
  what += "\n";
  for (const auto& a : spec.args) what += a + '\0';
  what += "\n";
  for (const auto& [k, ref] : spec.env_from_secret) what += k + "=" + ref.name + "/" + ref.key + '\0';
  for (const auto& [k, v] : spec.env) what += k + '\0';  // names only: the hash must not depend on a secret
  if (spec.folder_from_image) {
    what += "\nfolder\n" + spec.folder_from_image->image + '\0' + spec.folder_from_image->path + '\0' +
            spec.folder_from_image->mount;
  }
  for (const auto& m : spec.claim_mounts) {
    what += "claim:" + m.claim + "/" + m.sub_path + ":" + m.mount_path + (m.read_only ? ":ro" : "") + '\0';
  }
  std::string base = DnsLabelPart(o.name, 40);
  return "su-" + (base.empty() ? std::string("migrate") : base) + "-" + Sha256Hex(what).substr(0, 10);
}

Result<std::string> BuildMigrationJob(const KubeJobOptions& o, const ContainerRunSpec& spec,
                                      const std::string& workload_json) {
  if (!spec.env.empty()) {
    return Status::Invalid("migration Job for " + o.ns + "/" + o.name + ": environment variable " +
                           spec.env.begin()->first +
                           " would be written into the Job object; on Kubernetes the DSN reaches the migrator only "
                           "from a Secret: use spec.database.dsnFrom.secretKeyRef");
  }
  if (spec.image.empty()) return Status::Invalid("migration Job for " + o.ns + "/" + o.name + ": empty image");
  value pod = value::object();
  value app = value::object();  // the workload's named container
  value init_src = value::object();  // what the folder-copying init container takes from it
  if (!workload_json.empty()) {
    SU_ASSIGN_OR_RETURN(value w, kube_runtime::Parse(workload_json, o.workload.kind + " " + o.workload.name));
    std::string describe = o.workload.kind + " " + o.ns + "/" + o.workload.name;
    SU_ASSIGN_OR_RETURN(kube_runtime::ContainerAt at, kube_runtime::FindContainer(w, o.workload.container, describe));
    const value* tmpl = At(w, {"spec", "template", "spec"});
    if (tmpl) {
      for (const char* f : {"serviceAccountName", "automountServiceAccountToken", "imagePullSecrets", "securityContext",
                            "nodeSelector", "tolerations", "affinity", "priorityClassName"}) {
        CopyField(*tmpl, &pod, f);
      }
      app = tmpl->at("containers").as_array().at(at.index);
      if (spec.folder_from_image) {
        // The container is the controller's image, not the app's: only the init container (the
        // app's image) runs as the app's container does.
        for (const char* f : {"securityContext", "imagePullPolicy"}) CopyField(app, &init_src, f);
        app = value::object();
        pod["automountServiceAccountToken"] = value::boolean(false);  // reading a folder needs no API
      }
      // The volumes the container mounts (config files, CA bundles), nothing else of the pod's.
      std::set<std::string> mounted;
      if (const value* mounts = At(app, {"volumeMounts"}); mounts && mounts->is_array()) {
        for (const auto& m : mounts->as_array()) mounted.insert(kube_runtime::Str(m, {"name"}));
      }
      if (const value* vols = At(*tmpl, {"volumes"}); vols && vols->is_array() && !mounted.empty()) {
        value keep = value::array();
        size_t n = 0;
        for (const auto& v : vols->as_array()) {
          if (mounted.count(kube_runtime::Str(v, {"name"}))) keep[n++] = v;
        }
        if (n > 0) pod["volumes"] = keep;
      }
    }
  }

  value c = value::object();
  c["name"] = value::string(kJobContainer);
  c["image"] = value::string(spec.image);
  if (!spec.entrypoint.empty()) {
    value cmd = value::array();
    for (size_t i = 0; i < spec.entrypoint.size(); ++i) cmd[i] = value::string(spec.entrypoint[i]);
    c["command"] = cmd;
  }
  if (!spec.args.empty()) {
    value args = value::array();
    for (size_t i = 0; i < spec.args.size(); ++i) args[i] = value::string(spec.args[i]);
    c["args"] = args;
  }
  // env: the app's own, minus the names this run sets, then the Secret references.
  value env = value::array();
  size_t n = 0;
  if (const value* e = At(app, {"env"}); e && e->is_array()) {
    for (const auto& var : e->as_array()) {
      if (spec.env_from_secret.count(kube_runtime::Str(var, {"name"}))) continue;
      env[n++] = var;
    }
  }
  for (const auto& [name, ref] : spec.env_from_secret) {
    value key = value::object();
    key["name"] = value::string(ref.name);
    key["key"] = value::string(ref.key);
    value from = value::object();
    from["secretKeyRef"] = key;
    value var = value::object();
    var["name"] = value::string(name);
    var["valueFrom"] = from;
    env[n++] = var;
  }
  if (n > 0) c["env"] = env;
  for (const char* f : {"envFrom", "volumeMounts", "resources", "imagePullPolicy", "securityContext"}) {
    CopyField(app, &c, f);
  }
  // The claims the run needs (the backup Job's PersistentVolumeClaim), as volumes "claim-<i>".
  if (!spec.claim_mounts.empty()) {
    value mounts = c.has_field("volumeMounts") && c.at("volumeMounts").is_array() ? c.at("volumeMounts") : value::array();
    value vols = pod.has_field("volumes") && pod.at("volumes").is_array() ? pod.at("volumes") : value::array();
    size_t nm = mounts.as_array().size(), nv = vols.as_array().size();
    for (size_t i = 0; i < spec.claim_mounts.size(); ++i) {
      const auto& m = spec.claim_mounts[i];
      if (m.claim.empty() || m.mount_path.empty() || m.mount_path.front() != '/') {
        return Status::Invalid("Job for " + o.ns + "/" + o.name + ": claim mount " + std::to_string(i) +
                               " needs a claim name and an absolute mount path");
      }
      const std::string vname = "claim-" + std::to_string(i);
      value src = value::object();
      src["claimName"] = value::string(m.claim);
      if (m.read_only) src["readOnly"] = value::boolean(true);
      value vol = value::object();
      vol["name"] = value::string(vname);
      vol["persistentVolumeClaim"] = src;
      vols[nv++] = vol;
      value mount = value::object();
      mount["name"] = value::string(vname);
      mount["mountPath"] = value::string(m.mount_path);
      if (!m.sub_path.empty()) mount["subPath"] = value::string(m.sub_path);
      if (m.read_only) mount["readOnly"] = value::boolean(true);
      mounts[nm++] = mount;
    }
    c["volumeMounts"] = mounts;
    pod["volumes"] = vols;
  }
  c["terminationMessagePolicy"] = value::string("FallbackToLogsOnError");

  // Restricted Pod Security where the template is silent.
  value psc = pod.has_field("securityContext") && pod.at("securityContext").is_object() ? pod.at("securityContext")
                                                                                          : value::object();
  value csc = c.has_field("securityContext") && c.at("securityContext").is_object() ? c.at("securityContext")
                                                                                    : value::object();
  if (!psc.has_field("runAsNonRoot") && !csc.has_field("runAsNonRoot")) psc["runAsNonRoot"] = value::boolean(true);
  if (o.fs_group >= 0 && !psc.has_field("fsGroup")) psc["fsGroup"] = value::number(o.fs_group);
  if (!psc.has_field("seccompProfile") && !csc.has_field("seccompProfile")) {
    value prof = value::object();
    prof["type"] = value::string("RuntimeDefault");
    psc["seccompProfile"] = prof;
  }
  if (!csc.has_field("allowPrivilegeEscalation")) csc["allowPrivilegeEscalation"] = value::boolean(false);
  value caps = csc.has_field("capabilities") && csc.at("capabilities").is_object() ? csc.at("capabilities")
                                                                                    : value::object();
  if (!caps.has_field("drop")) {
    value drop = value::array();
    drop[0] = value::string("ALL");
    caps["drop"] = drop;
  }
  csc["capabilities"] = caps;
  pod["securityContext"] = psc;
  c["securityContext"] = csc;

  value containers = value::array();
  containers[0] = c;
  pod["containers"] = containers;
  if (spec.folder_from_image) {
    const auto& ff = *spec.folder_from_image;
    if (ff.image.empty() || ff.path.empty() || ff.path[0] != '/' || ff.mount.empty() || ff.mount[0] != '/') {
      return Status::Invalid("migration Job for " + o.ns + "/" + o.name + ": the folder to copy needs an image and "
                             "absolute paths (got image \"" + ff.image + "\", path \"" + ff.path + "\")");
    }
    value mount = value::object();
    mount["name"] = value::string(kJobFolderVolume);
    mount["mountPath"] = value::string(ff.mount);
    value mounts = value::array();
    mounts[0] = mount;
    value init = value::object();
    init["name"] = value::string(kJobCopyContainer);
    init["image"] = value::string(ff.image);
    // sh and cp of the image itself (busybox, Debian, Alpine and UBI images have both); "$0" is
    // the folder, never spliced into the script.
    value cmd = value::array();
    cmd[0] = value::string("sh");
    cmd[1] = value::string("-c");
    cmd[2] = value::string("cp -R \"$0\"/. \"$1\"/");
    cmd[3] = value::string(ff.path);
    cmd[4] = value::string(ff.mount);
    init["command"] = cmd;
    init["volumeMounts"] = mounts;
    CopyField(init_src, &init, "imagePullPolicy");
    init["terminationMessagePolicy"] = value::string("FallbackToLogsOnError");
    value isc = init_src.has_field("securityContext") && init_src.at("securityContext").is_object()
                    ? init_src.at("securityContext")
                    : value::object();
    if (!isc.has_field("allowPrivilegeEscalation")) isc["allowPrivilegeEscalation"] = value::boolean(false);
    if (!isc.has_field("capabilities")) {
      value icaps = value::object();
      value drop = value::array();
      drop[0] = value::string("ALL");
      icaps["drop"] = drop;
      isc["capabilities"] = icaps;
    }
    init["securityContext"] = isc;
    value inits = value::array();
    inits[0] = init;
    pod["initContainers"] = inits;
    pod["containers"][0]["volumeMounts"] = mounts;
    value empty = value::object();
    empty["sizeLimit"] = value::string("64Mi");
    value vol = value::object();
    vol["name"] = value::string(kJobFolderVolume);
    vol["emptyDir"] = empty;
    value vols = value::array();
    vols[0] = vol;
    pod["volumes"] = vols;
  }
  pod["restartPolicy"] = value::string("Never");

  std::vector<std::string> argv = spec.entrypoint;
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  value annotations = value::object();
  annotations["olympus.io/resource"] = value::string(o.ns + "/" + o.name);
  annotations["olympus.io/image"] = value::string(spec.image);
  annotations["olympus.io/command"] = value::string(argv.empty() ? "(the image's entrypoint)" : FormatArgv(argv));

  value meta = value::object();
  meta["name"] = value::string(MigrationJobName(o, spec));
  meta["namespace"] = value::string(o.ns);
  meta["labels"] = Labels(o);
  meta["annotations"] = annotations;
  if (!o.uid.empty()) meta["ownerReferences"] = kube::ControllerOwnerReferences(kApiVersion, kKind, o.name, o.uid);

  value tmeta = value::object();
  tmeta["labels"] = Labels(o);
  value tmpl = value::object();
  tmpl["metadata"] = tmeta;
  tmpl["spec"] = pod;

  auto deadline = spec.timeout.count() > 0
                      ? std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(spec.timeout).count())
                      : static_cast<int64_t>(o.default_deadline.count());
  value jspec = value::object();
  jspec["backoffLimit"] = value::number(0);
  jspec["activeDeadlineSeconds"] = value::number(deadline);
  jspec["ttlSecondsAfterFinished"] = value::number(static_cast<int64_t>(o.ttl_after_finished.count()));
  jspec["template"] = tmpl;

  value job = value::object();
  job["apiVersion"] = value::string("batch/v1");
  job["kind"] = value::string("Job");
  job["metadata"] = meta;
  job["spec"] = jspec;
  return job.serialize();
}

}  // namespace su
