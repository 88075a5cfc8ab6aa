// The real KubeApi over HTTPS (cpprestsdk + OpenSSL, kept inside rest_client.cc).
// TLS is verified against the RestConfig's CA only (the system roots are not trusted when a CA is
// given; with no CA, the system roots), insecure only when the config says so; bearer token from the
// config's TokenSource on every request (so a rotated file token is used at once); client
// certificates; client-side throttling with RestConfig qps/burst.
#pragma once

#include <chrono>
#include <memory>

#include "kube/api.h"
#include "kube/config.h"
#include "reconcilers/base/result.h"

namespace su::kube {

struct RestClientOptions {
  std::chrono::seconds request_timeout{30};  // per non-watch request (inactivity, as cpprestsdk counts it)
  // As client-go: an answer of 429 or 5xx that carries Retry-After (the server says it did not act) is
  // sent again after that many seconds (capped at max_retry_after), at most max_retries times.
  int max_retries = 10;
  std::chrono::seconds max_retry_after{10};
};

// Fails (kInvalidArgument, naming config.source) when the CA, client certificate or key is not usable PEM.
Result<std::unique_ptr<KubeApi>> NewRestClient(const RestConfig& config, const RestClientOptions& options = {});

}  // namespace su::kube
