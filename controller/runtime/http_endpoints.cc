// HttpEndpoints over cpprestsdk's http_listener (see http_endpoints.h). Every cpprest exception is
// caught here: at open (turned into a Status) and in the handler (turned into a 500).
#include "controller/runtime/http_endpoints.h"

#include <cpprest/http_listener.h>
#include <pplx/threadpool.h>

#include <mutex>

#include "reconcilers/base/log.h"

namespace su {
namespace {

using web::http::http_request;
using web::http::methods;
using web::http::status_codes;
using web::http::experimental::listener::http_listener;

constexpr const char* kTextPlain = "text/plain; charset=utf-8";
// The Prometheus text exposition format's content type.
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

class CpprestEndpoints : public HttpEndpoints {
 public:
  CpprestEndpoints(HttpEndpointsOptions options, std::string url)
      : options_(std::move(options)), url_(std::move(url)), listener_(url_) {}
  ~CpprestEndpoints() override { Stop(); }

  Status Open() {
    listener_.support(methods::GET, [this](http_request req) { Handle(req); });
    try {
      listener_.open().wait();
    } catch (const std::exception& e) {
      return Status::Error(Code::kUnavailable, "cannot listen on " + url_ + ": " + e.what());
    }
    open_ = true;
    LogInfo("http_listening", {{"url", url_}});
    return Status::Ok();
  }

  void Stop() override {
    std::lock_guard<std::mutex> l(mu_);
    if (!open_) return;
    open_ = false;
    try {
      listener_.close().wait();
    } catch (const std::exception& e) {
      LogWarn("http_close_failed", {{"error", e.what()}});
    }
  }

  std::string Url() const override { return url_; }

 private:
  void Handle(http_request req) {
    try {
      const std::string path = req.relative_uri().path();
      if (path == "/metrics" && options_.metrics) {
        req.reply(status_codes::OK, options_.metrics->Render(), kPrometheusText);
      } else if (path == "/healthz") {
        Probe(req, !options_.healthy || options_.healthy());
      } else if (path == "/readyz") {
        Probe(req, !options_.ready || options_.ready());
      } else {
        req.reply(status_codes::NotFound, "not found\n", kTextPlain);
      }
    } catch (const std::exception& e) {
      LogWarn("http_handler_failed", {{"error", e.what()}});
      try {
        req.reply(status_codes::InternalError, "internal error\n", kTextPlain);
      } catch (...) {
        // The connection is gone; nothing left to tell.
      }
    }
  }

  static void Probe(http_request& req, bool ok) {
    if (ok) {
      req.reply(status_codes::OK, "ok\n", kTextPlain);
    } else {
      req.reply(status_codes::ServiceUnavailable, "not ready\n", kTextPlain);
    }
  }

  const HttpEndpointsOptions options_;
  const std::string url_;
  http_listener listener_;
  std::mutex mu_;
  bool open_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(HttpEndpointsOptions options) {
  if (options.port <= 0 || options.port > 65535) {
    return Status::Invalid("http port must be 1..65535, got " + std::to_string(options.port));
  }
  std::string url = "http://" + options.host + ":" + std::to_string(options.port);
  std::unique_ptr<CpprestEndpoints> e;
  try {
    e = std::make_unique<CpprestEndpoints>(std::move(options), url);
  } catch (const std::exception& ex) {
    return Status::Invalid("bad listen address " + url + ": " + ex.what());
  }
  SU_RETURN_IF_ERROR(e->Open());
  return std::unique_ptr<HttpEndpoints>(std::move(e));
}

bool SizeHttpThreadPool(size_t threads) {
  try {
    crossplat::threadpool::initialize_with_threads(threads);
    return true;
  } catch (const std::exception&) {
    return false;  // the pool already exists
  }
}

}  // namespace su
