// RestConfig: how to reach and authenticate to one API server, loaded from a kubeconfig or from the
// in-cluster service account. Errors are values naming the kubeconfig path and the field
// (e.g. `kubeconfig /home/me/.kube/config: users[dev].client-key: file /x cannot be read`).
// No cpprestsdk and no yaml-cpp here: the REST client (rest_client.h) takes a RestConfig.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kube/token_source.h"
#include "reconcilers/base/result.h"

namespace su::kube {

struct RestConfig {
  std::string server;                // https://host:port (no trailing slash)
  std::string ca_pem;                // trusted CA(s); empty: the system roots
  bool insecure_skip_tls_verify = false;  // only when the kubeconfig says so
  std::string tls_server_name;       // kubeconfig tls-server-name (SNI and verification name)
  std::shared_ptr<TokenSource> token;  // null: no bearer token
  std::string client_cert_pem;       // client certificate (chain), with client_key_pem
  std::string client_key_pem;        // a secret: never logged
  std::string default_namespace;     // the context's namespace, or the pod's; "default" otherwise
  std::string source;                // "kubeconfig PATH context NAME" or "in-cluster", for messages
  // Client-side throttling, as client-go's rest.Config (QPS 5, burst 10 by default).
  double qps = 5;
  int burst = 10;
  std::string user_agent = "schema-upgrade";
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// getenv().
EnvLookup ProcessEnv();

// Loads one kubeconfig. `paths` is a KUBECONFIG-style list (':'-separated); entries that do not
// exist are skipped, as kubectl does, and named clusters/users/contexts merge with the first file to
// define a name winning. Relative file fields resolve against the directory of the file that set
// them. context empty: current-context. Unsupported auth (exec, auth-provider, username/password) is
// an error naming the field, never silently anonymous.
Result<RestConfig> LoadKubeconfig(const std::string& paths, const std::string& context = "");

struct InClusterPaths {
  std::string token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string ns = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};
// In-cluster: KUBERNETES_SERVICE_HOST/PORT, the service-account token (re-read when it rotates)
// and CA. kNotFound when KUBERNETES_SERVICE_HOST is not set (not running in a pod).
Result<RestConfig> InClusterConfig(const EnvLookup& env, const InClusterPaths& paths = {});

struct ConfigOptions {
  std::string kubeconfig;  // --kubeconfig
  std::string context;     // --context
  EnvLookup env = ProcessEnv();
  InClusterPaths in_cluster = {};
};
// Precedence as controller-runtime's GetConfig: --kubeconfig, then $KUBECONFIG, then in-cluster
// (when KUBERNETES_SERVICE_HOST is set), then $HOME/.kube/config. An explicit --kubeconfig that does
// not exist is an error; so is finding nothing at all (the message lists what was tried).
Result<RestConfig> LoadConfig(const ConfigOptions& options);

}  // namespace su::kube
