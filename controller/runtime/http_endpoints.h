// HttpEndpoints: the controller's HTTP face for Prometheus and kubelet probes: GET /metrics (the
// registry in text format), /healthz (liveness) and /readyz (readiness: 503 until ready() says so).
// cpprestsdk stays inside http_endpoints.cc.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "controller/runtime/metrics.h"
#include "reconcilers/base/result.h"

namespace su {

struct HttpEndpointsOptions {
  std::string host = "0.0.0.0";
  int port = 8080;
  Metrics* metrics = nullptr;          // /metrics is 404 without one
  std::function<bool()> healthy;       // unset: always healthy
  std::function<bool()> ready;         // unset: always ready
};

class HttpEndpoints {
 public:
  // Listens until Stop or destruction. kUnavailable if the address cannot be bound.
  static Result<std::unique_ptr<HttpEndpoints>> Start(HttpEndpointsOptions options);
  virtual ~HttpEndpoints() = default;
  // Stops listening; in-flight requests are answered first. Idempotent.
  virtual void Stop() = 0;
  // The address served, e.g. http://127.0.0.1:8080
  virtual std::string Url() const = 0;
};

// Sizes cpprestsdk's process-wide thread pool (40 threads by default), which runs the HTTP client's
// and server's I/O completions. The controller's own threads do every blocking wait, so a few pool
// threads suffice. Effective only before the first HTTP use; false (and no change) after it.
bool SizeHttpThreadPool(size_t threads);

}  // namespace su
