// Kubeconfig and in-cluster loading (see config.h). yaml-cpp exceptions stop here.
#include "kube/config.h"

#include <stdlib.h>

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "kube/base64.h"
#include "reconcilers/base/fs.h"

namespace su::kube {
namespace {

struct Named {
  YAML::Node node;   // the inner cluster/user/context map
  std::string file;  // the kubeconfig that defined it (relative paths resolve against its dir)
};

struct Merged {
  std::map<std::string, Named> clusters, users, contexts;
  std::string current_context;
  std::string current_context_file;
  std::vector<std::string> files;  // those that existed, in order
};

std::vector<std::string> SplitPaths(const std::string& paths) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : paths) {
    if (c == ':') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool FileExists(const std::string& p) { return std::ifstream(p).good(); }

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(Code::kNotFound, "file " + path + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Str(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap()) return "";
  YAML::Node v = n[key];
  if (!v || v.IsNull() || !v.IsScalar()) return "";
  return v.as<std::string>();
}

Status MergeFile(const std::string& path, Merged* m) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::Invalid("kubeconfig " + path + ": not valid YAML at line " + std::to_string(e.mark.line + 1) +
                           ": " + e.msg);
  }
  if (!root || root.IsNull()) return Status::Ok();  // an empty file defines nothing, as in kubectl
  if (!root.IsMap()) return Status::Invalid("kubeconfig " + path + ": the document is not a map");
  auto take = [&](const char* list, const char* inner, std::map<std::string, Named>* into) -> Status {
    YAML::Node l = root[list];
    if (!l || l.IsNull()) return Status::Ok();
    if (!l.IsSequence()) return Status::Invalid("kubeconfig " + path + ": " + list + " is not a list");
    for (size_t i = 0; i < l.size(); ++i) {
      std::string name = Str(l[i], "name");
      if (name.empty())
        return Status::Invalid("kubeconfig " + path + ": " + list + "[" + std::to_string(i) + "].name is missing");
      YAML::Node body = l[i][inner];
      if (body && !body.IsNull() && !body.IsMap())
        return Status::Invalid("kubeconfig " + path + ": " + list + "[" + name + "]." + inner + " is not a map");
      if (!into->count(name)) into->emplace(name, Named{body ? body : YAML::Node(YAML::NodeType::Map), path});
    }
    return Status::Ok();
  };
  try {
    SU_RETURN_IF_ERROR(take("clusters", "cluster", &m->clusters));
    SU_RETURN_IF_ERROR(take("users", "user", &m->users));
    SU_RETURN_IF_ERROR(take("contexts", "context", &m->contexts));
    if (m->current_context.empty()) {
      m->current_context = Str(root, "current-context");
      if (!m->current_context.empty()) m->current_context_file = path;
    }
  } catch (const YAML::Exception& e) {
    return Status::Invalid("kubeconfig " + path + ": " + e.msg);
  }
  m->files.push_back(path);
  return Status::Ok();
}

// Reads a PEM (or token) from `<field>-data` (base64) or `<field>` (a file), naming the field on error.
Result<std::string> DataOrFile(const Named& n, const std::string& where, const std::string& field,
                               const std::string& what) {
  std::string data = Str(n.node, (field + "-data").c_str());
  std::string file = Str(n.node, field.c_str());
  std::string prefix = "kubeconfig " + n.file + ": " + where + ".";
  if (!data.empty() && !file.empty())
    return Status::Invalid(prefix + field + "-data and " + prefix + field + " are both set; keep one");
  if (!data.empty()) {
    std::string out;
    if (!Base64Decode(data, &out)) return Status::Invalid(prefix + field + "-data is not valid base64");
    if (out.find("-----BEGIN") == std::string::npos)
      return Status::Invalid(prefix + field + "-data does not hold a PEM " + what);
    return out;
  }
  if (!file.empty()) {
    std::string path = ResolvePath(DirName(n.file), file);
    auto r = ReadWhole(path);
    if (!r.ok()) return r.status().WithContext(prefix + field).WithCode(Code::kInvalidArgument);
    if (r->find("-----BEGIN") == std::string::npos)
      return Status::Invalid(prefix + field + ": file " + path + " does not hold a PEM " + what);
    return r;
  }
  return std::string();
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<RestConfig> LoadKubeconfig(const std::string& paths, const std::string& context) {
  Merged m;
  for (const auto& p : SplitPaths(paths)) {
    if (!FileExists(p)) continue;
    SU_RETURN_IF_ERROR(MergeFile(p, &m));
  }
  if (m.files.empty()) return Status::Error(Code::kNotFound, "kubeconfig " + paths + ": no such file");
  std::string label = m.files.size() == 1 ? m.files[0] : paths;

  std::string ctx_name = context.empty() ? m.current_context : context;
  if (ctx_name.empty())
    return Status::Invalid("kubeconfig " + label + ": current-context is not set; pass --context");
  auto ctx = m.contexts.find(ctx_name);
  if (ctx == m.contexts.end()) {
    std::string field = context.empty() ? "current-context" : "--context";
    return Status::Invalid("kubeconfig " + label + ": " + field + " names context \"" + ctx_name +
                           "\", which contexts[] does not define");
  }
  const std::string ctx_where = "contexts[" + ctx_name + "].context";
  std::string cluster_name = Str(ctx->second.node, "cluster");
  std::string user_name = Str(ctx->second.node, "user");
  if (cluster_name.empty())
    return Status::Invalid("kubeconfig " + ctx->second.file + ": " + ctx_where + ".cluster is missing");
  auto cl = m.clusters.find(cluster_name);
  if (cl == m.clusters.end())
    return Status::Invalid("kubeconfig " + ctx->second.file + ": " + ctx_where + ".cluster names \"" +
                           cluster_name + "\", which clusters[] does not define");

  RestConfig cfg;
  cfg.source = "kubeconfig " + label + " context " + ctx_name;
  cfg.default_namespace = Str(ctx->second.node, "namespace");
  if (cfg.default_namespace.empty()) cfg.default_namespace = "default";

  try {
    const std::string cw = "clusters[" + cluster_name + "].cluster";
    const std::string cp = "kubeconfig " + cl->second.file + ": " + cw;
    cfg.server = Str(cl->second.node, "server");
    if (cfg.server.empty()) return Status::Invalid(cp + ".server is missing");
    if (cfg.server.rfind("https://", 0) != 0 && cfg.server.rfind("http://", 0) != 0)
      return Status::Invalid(cp + ".server \"" + cfg.server + "\" is not an http(s) URL");
    while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
    std::string insecure = Str(cl->second.node, "insecure-skip-tls-verify");
    if (!insecure.empty() && insecure != "true" && insecure != "false")
      return Status::Invalid(cp + ".insecure-skip-tls-verify must be true or false, not \"" + insecure + "\"");
    cfg.insecure_skip_tls_verify = insecure == "true";
    cfg.tls_server_name = Str(cl->second.node, "tls-server-name");
    SU_ASSIGN_OR_RETURN(cfg.ca_pem, DataOrFile(cl->second, cw, "certificate-authority", "certificate"));
    if (cfg.insecure_skip_tls_verify && !cfg.ca_pem.empty())
      return Status::Invalid(cp + ".insecure-skip-tls-verify is true and a certificate-authority is set; keep one");

    if (!user_name.empty()) {
      auto us = m.users.find(user_name);
      if (us == m.users.end())
        return Status::Invalid("kubeconfig " + ctx->second.file + ": " + ctx_where + ".user names \"" + user_name +
                               "\", which users[] does not define");
      const std::string uw = "users[" + user_name + "].user";
      const std::string up = "kubeconfig " + us->second.file + ": " + uw;
      for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
        if (us->second.node[unsupported])
          return Status::Invalid(up + "." + unsupported +
                                 " is not supported; use a token, tokenFile or a client certificate");
      }
      std::string token = Str(us->second.node, "token");
      std::string token_file = Str(us->second.node, "tokenFile");
      if (!token.empty()) {
        cfg.token = StaticToken(token);  // as client-go: token wins over tokenFile
      } else if (!token_file.empty()) {
        std::string path = ResolvePath(DirName(us->second.file), token_file);
        cfg.token = FileToken(path, up + ".tokenFile");
        auto t = cfg.token->Token();  // fail now, naming the field, rather than at the first request
        if (!t.ok()) return t.status().WithCode(Code::kInvalidArgument);
      }
      SU_ASSIGN_OR_RETURN(cfg.client_cert_pem, DataOrFile(us->second, uw, "client-certificate", "certificate"));
      SU_ASSIGN_OR_RETURN(cfg.client_key_pem, DataOrFile(us->second, uw, "client-key", "private key"));
      if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty())
        return Status::Invalid(up + ": client-certificate and client-key go together; one of them is missing");
    }
  } catch (const YAML::Exception& e) {
    return Status::Invalid("kubeconfig " + label + ": " + e.msg);
  }
  return cfg;
}

Result<RestConfig> InClusterConfig(const EnvLookup& env, const InClusterPaths& paths) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty())
    return Status::Error(Code::kNotFound, "in-cluster: KUBERNETES_SERVICE_HOST is not set (not running in a pod)");
  if (!port || port->empty())
    return Status::Invalid("in-cluster: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not");
  RestConfig cfg;
  cfg.source = "in-cluster";
  std::string h = *host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";  // IPv6 literal
  cfg.server = "https://" + h + ":" + *port;
  auto ca = ReadWhole(paths.ca);
  if (!ca.ok()) return ca.status().WithContext("in-cluster: service-account CA").WithCode(Code::kInvalidArgument);
  cfg.ca_pem = *ca;
  cfg.token = FileToken(paths.token, "in-cluster: service-account token");
  auto t = cfg.token->Token();
  if (!t.ok()) return t.status().WithCode(Code::kInvalidArgument);
  auto ns = ReadWhole(paths.ns);
  cfg.default_namespace = "default";
  if (ns.ok()) {
    std::string v = *ns;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    if (!v.empty()) cfg.default_namespace = v;
  }
  return cfg;
}

Result<RestConfig> LoadConfig(const ConfigOptions& o) {
  if (!o.kubeconfig.empty()) {
    if (!FileExists(o.kubeconfig))
      return Status::Invalid("--kubeconfig " + o.kubeconfig + ": no such file");
    return LoadKubeconfig(o.kubeconfig, o.context);
  }
  std::vector<std::string> tried;
  if (auto kc = o.env("KUBECONFIG"); kc && !kc->empty()) {
    auto r = LoadKubeconfig(*kc, o.context);
    if (r.ok() || r.status().code() != Code::kNotFound) return r;
    tried.push_back("KUBECONFIG=" + *kc);
  }
  if (auto h = o.env("KUBERNETES_SERVICE_HOST"); h && !h->empty()) return InClusterConfig(o.env, o.in_cluster);
  tried.push_back("in-cluster (KUBERNETES_SERVICE_HOST unset)");
  if (auto home = o.env("HOME"); home && !home->empty()) {
    std::string p = *home + "/.kube/config";
    if (FileExists(p)) return LoadKubeconfig(p, o.context);
    tried.push_back(p);
  }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  return Status::Error(Code::kNotFound, "no Kubernetes configuration found (tried " + list +
                                            "); pass --kubeconfig or set KUBECONFIG");
}

}  // namespace su::kube
