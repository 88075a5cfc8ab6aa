// KubeApi over cpprestsdk's http_client (see rest_client.h). The only file that sees cpprestsdk's
// HTTP classes and OpenSSL; exceptions from either stop here and become ApiErrors.
#include "kube/rest_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>
#include <cpprest/http_client.h>
#include <cpprest/json.h>
#include <mutex>
#include <random>
#include <thread>

#include "kube/throttle.h"
#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"

namespace su::kube {
namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::method;
using web::http::methods;
using web::http::client::http_client;
using web::http::client::http_client_config;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr MemBio(const std::string& s) { return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size()))); }

// Every certificate in a PEM bundle; empty when none parses.
std::vector<X509*> ReadCerts(const std::string& pem) {
  std::vector<X509*> out;
  auto bio = MemBio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.push_back(x);
  ERR_clear_error();  // the loop ends on a "no start line" error
  return out;
}

Status CheckTlsMaterial(const RestConfig& c) {
  if (!c.tls_server_name.empty())
    return Status::Invalid(c.source + ": tls-server-name is not supported by this client");
  if (!c.ca_pem.empty()) {
    auto certs = ReadCerts(c.ca_pem);
    if (certs.empty()) return Status::Invalid(c.source + ": certificate-authority holds no PEM certificate");
    for (X509* x : certs) X509_free(x);
  }
  if (!c.client_cert_pem.empty()) {
    auto certs = ReadCerts(c.client_cert_pem);
    if (certs.empty()) return Status::Invalid(c.source + ": client-certificate holds no PEM certificate");
    auto kb = MemBio(c.client_key_pem);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr);
    ERR_clear_error();
    bool match = key && X509_check_private_key(certs[0], key) == 1;
    ERR_clear_error();
    for (X509* x : certs) X509_free(x);
    if (!key) return Status::Invalid(c.source + ": client-key holds no PEM private key");
    EVP_PKEY_free(key);
    if (!match) return Status::Invalid(c.source + ": client-key does not match client-certificate");
  }
  return Status::Ok();
}

// Trust exactly the configured CA (a new store replaces the default verify paths cpprestsdk loaded)
// and present the client certificate. Runs for each new connection.
void ConfigureSsl(boost::asio::ssl::context& ctx, const RestConfig& c) {
  if (!c.ca_pem.empty()) {
    X509_STORE* store = X509_STORE_new();
    for (X509* x : ReadCerts(c.ca_pem)) {
      X509_STORE_add_cert(store, x);
      X509_free(x);
    }
    SSL_CTX_set_cert_store(ctx.native_handle(), store);  // takes ownership, frees the old store
  }
  if (!c.client_cert_pem.empty()) {
    boost::system::error_code ec;
    ctx.use_certificate_chain(boost::asio::buffer(c.client_cert_pem), ec);
    ctx.use_private_key(boost::asio::buffer(c.client_key_pem), boost::asio::ssl::context::pem, ec);
  }
}

std::string Enc(const std::string& s) { return web::uri::encode_data_string(s); }

void AddParam(std::string* q, const std::string& k, const std::string& v) {
  if (v.empty()) return;
  *q += (q->empty() ? "?" : "&") + k + "=" + Enc(v);
}

std::string RbacResource(const ResourcePath& p) {
  return p.gvr.resource + (p.subresource.empty() ? "" : "/" + p.subresource);
}

class RestClient : public KubeApi {
 public:
  RestClient(RestConfig cfg, RestClientOptions opts)
      : cfg_(std::move(cfg)),
        opts_(opts),
        bucket_(cfg_.qps, cfg_.burst),
        client_(std::make_shared<http_client>(web::uri(cfg_.server), MakeConfig(opts_.request_timeout))) {}

  ApiResult<std::string> Get(const ResourcePath& p) override { return Do(methods::GET, "get", p, p.query.empty() ? "" : "?" + p.query, "", ""); }

  ApiResult<ListResult> List(const ResourcePath& p, const ListOptions& o) override {
    ListResult out;
    std::string cont;
    do {
      std::string q;
      AddParam(&q, "labelSelector", o.label_selector);
      AddParam(&q, "fieldSelector", o.field_selector);
      if (o.limit > 0) AddParam(&q, "limit", std::to_string(o.limit));
      AddParam(&q, "continue", cont);
      if (cont.empty()) AddParam(&q, "resourceVersion", o.resource_version);
      auto r = Do(methods::GET, "list", p, q, "", "");
      if (!r.ok()) return r.error();
      try {
        auto v = web::json::value::parse(*r);
        std::string kind = v.has_string_field("kind") ? v.at("kind").as_string() : "";
        if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) kind.resize(kind.size() - 4);
        std::string api_version = v.has_string_field("apiVersion") ? v.at("apiVersion").as_string() : "";
        const auto& meta = v.at("metadata");
        out.resource_version = meta.has_string_field("resourceVersion") ? meta.at("resourceVersion").as_string() : "";
        cont = meta.has_string_field("continue") ? meta.at("continue").as_string() : "";
        if (v.has_array_field("items")) {
          for (auto item : v.at("items").as_array()) {
            if (!item.has_field("kind")) item["kind"] = web::json::value::string(kind);
            if (!item.has_field("apiVersion")) item["apiVersion"] = web::json::value::string(api_version);
            out.items.push_back(item.serialize());
          }
        }
      } catch (const std::exception& e) {
        return TransportError("list", p.Url(), std::string("the answer is not a list: ") + e.what());
      }
    } while (!cont.empty());
    return out;
  }

  ApiResult<std::string> Create(const ResourcePath& p, const std::string& body, const WriteOptions& o) override {
    return Do(methods::POST, "create", p, WriteQuery(o), body, "application/json");
  }

  ApiResult<std::string> Update(const ResourcePath& p, const std::string& body, const WriteOptions& o) override {
    return Do(methods::PUT, "update", p, WriteQuery(o), body, "application/json");
  }

  ApiResult<std::string> Patch(const ResourcePath& p, PatchType type, const std::string& body,
                               const WriteOptions& o) override {
    std::string ct = type == PatchType::kMerge  ? "application/merge-patch+json"
                     : type == PatchType::kJson ? "application/json-patch+json"
                                                : "application/apply-patch+yaml";
    if (type == PatchType::kApply && o.field_manager.empty())
      return TransportError("patch", p.Url(), "server-side apply needs a field manager");
    std::string q = WriteQuery(o);
    if (type == PatchType::kApply && o.force) AddParam(&q, "force", "true");
    return Do(methods::PATCH, "patch", p, q, body, ct);
  }

  ApiResult<std::string> Delete(const ResourcePath& p, const DeleteOptions& o) override {
    std::string body;
    if (!o.precondition_uid.empty() || !o.precondition_resource_version.empty() || !o.propagation_policy.empty()) {
      web::json::value v = web::json::value::object();
      v["kind"] = web::json::value::string("DeleteOptions");
      v["apiVersion"] = web::json::value::string("v1");
      if (!o.precondition_uid.empty() || !o.precondition_resource_version.empty()) {
        web::json::value pre = web::json::value::object();
        if (!o.precondition_uid.empty()) pre["uid"] = web::json::value::string(o.precondition_uid);
        if (!o.precondition_resource_version.empty())
          pre["resourceVersion"] = web::json::value::string(o.precondition_resource_version);
        v["preconditions"] = pre;
      }
      if (!o.propagation_policy.empty()) v["propagationPolicy"] = web::json::value::string(o.propagation_policy);
      body = v.serialize();
    }
    return Do(methods::DEL, "delete", p, "", body, body.empty() ? "" : "application/json");
  }

  ApiResult<bool> Watch(const ResourcePath& p, const WatchOptions& o, const EventHandler& on_event,
                        std::stop_token stop) override;

 private:
  http_client_config MakeConfig(std::chrono::seconds timeout) const {
    http_client_config c;
    c.set_timeout(timeout);
    c.set_validate_certificates(!cfg_.insecure_skip_tls_verify);
    RestConfig tls = cfg_;  // the callback outlives nothing: it holds its own copy of the PEMs
    tls.token.reset();
    c.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) { ConfigureSsl(ctx, tls); });
    return c;
  }

  static std::string WriteQuery(const WriteOptions& o) {
    std::string q;
    AddParam(&q, "fieldManager", o.field_manager);
    if (o.dry_run) AddParam(&q, "dryRun", "All");
    return q;
  }

  // Builds the request with headers and the bearer token; false (and *err) when the token cannot be read.
  bool Prepare(http_request* req, const std::string& verb, const std::string& url, ApiError* err) {
    req->headers().add("Accept", "application/json");
    req->headers().add("User-Agent", cfg_.user_agent);
    if (cfg_.token) {
      auto t = cfg_.token->Token();
      if (!t.ok()) {
        *err = TransportError(verb, url, t.status().message());
        return false;
      }
      req->headers().add("Authorization", "Bearer " + *t);
    }
    return true;
  }

  ApiError Decorate(ApiError e, const std::string& verb, const ResourcePath& p) const {
    if (e.IsForbidden()) {
      e.message += " (the RBAC rules of this identity lack verb \"" + verb + "\" on resource \"" + RbacResource(p) +
                   "\" in API group \"" + p.gvr.group + "\"" +
                   (p.gvr.namespaced && !p.ns.empty() ? " in namespace \"" + p.ns + "\"" : "") + ")";
    } else if (e.IsUnauthorized()) {
      e.message += " (the credentials of " + cfg_.source + " were refused: check the token or client certificate)";
    }
    return e;
  }

  ApiError FromException(const std::exception& ex, const std::string& verb, const std::string& url) const {
    std::string what = ex.what();
    if (auto* he = dynamic_cast<const web::http::http_exception*>(&ex)) {
      std::string ec = he->error_code().message();
      // cpprestsdk reports OpenSSL failures with the system category ("Unknown error 167772294"):
      // decode them as OpenSSL does ("certificate verify failed").
      unsigned long v = static_cast<unsigned long>(he->error_code().value());
      if (ERR_GET_LIB(v) == ERR_LIB_SSL) {
        if (const char* reason = ERR_reason_error_string(v)) ec = reason;
      }
      if (!ec.empty() && what.find(ec) == std::string::npos) what += " (" + ec + ")";
    }
    if (what.find("certificate") != std::string::npos || what.find("verify") != std::string::npos) {
      what = "TLS: " + what + "; the server's certificate did not verify against the certificate-authority of " +
             cfg_.source;
    } else if (what.find("handshake") != std::string::npos) {
      what = "TLS handshake with " + cfg_.server + " failed: " + what +
             (cfg_.client_cert_pem.empty() ? "" : " (the server may have refused the client certificate)");
    } else {
      what = "cannot reach " + cfg_.server + ": " + what;
    }
    return TransportError(verb, url, what);
  }

  ApiResult<std::string> Do(const method& m, const std::string& verb, const ResourcePath& p, const std::string& query,
                            const std::string& body, const std::string& content_type) {
    const std::string url = p.Url();
    bucket_.Wait();
    // A pooled connection the server closed (an API server restart) fails while the request is
    // written, before the server saw it: sending it again is safe for every verb. cpprestsdk retries
    // only when the failure shows while reading the status line, and puts the dead connection back in
    // its pool, so the retry goes through a new client (a new pool).
    int retries = 0;  // Retry-After answers honoured so far
    for (int attempt = 1;; ++attempt) {
      std::shared_ptr<http_client> client;
      {
        std::lock_guard<std::mutex> l(client_mu_);
        client = client_;
      }
      http_request req(m);
      req.set_request_uri(url + query);
      ApiError err;
      if (!Prepare(&req, verb, url, &err)) return err;
      if (!content_type.empty()) req.set_body(body, content_type);
      try {
        http_response resp = client->request(req).get();
        std::string text = resp.extract_utf8string(true).get();
        int code = resp.status_code();
        if (code >= 200 && code < 300) return text;
        ApiError e = ApiErrorFromResponse(code, text, verb, url);
        auto ra = resp.headers().find("Retry-After");
        if (ra != resp.headers().end()) e.retry_after_seconds = atoi(ra->second.c_str());
        if ((code == 429 || code >= 500) && ra != resp.headers().end() && retries < opts_.max_retries) {
          ++retries;
          auto wait = std::min<std::chrono::seconds>(std::chrono::seconds(std::max(e.retry_after_seconds, 1)),
                                                     opts_.max_retry_after);
          LogInfo("kube.request.retry", {{"verb", verb}, {"path", url}, {"code", std::to_string(code)},
                                         {"after", std::to_string(wait.count()) + "s"},
                                         {"attempt", std::to_string(retries)}});
          std::this_thread::sleep_for(wait);
          bucket_.Wait();
          continue;
        }
        return Decorate(std::move(e), verb, p);
      } catch (const std::exception& ex) {
        if (attempt <= 2 && std::string(ex.what()).find("Failed to write request") != std::string::npos) {
          std::lock_guard<std::mutex> l(client_mu_);
          if (client_ == client)
            client_ = std::make_shared<http_client>(web::uri(cfg_.server), MakeConfig(opts_.request_timeout));
          continue;
        }
        return FromException(ex, verb, url);
      }
    }
  }

  RestConfig cfg_;
  RestClientOptions opts_;
  TokenBucket bucket_;
  std::mutex client_mu_;
  std::shared_ptr<http_client> client_;  // guarded by client_mu_ (the pointer; the client is thread-safe)
};

ApiResult<bool> RestClient::Watch(const ResourcePath& p, const WatchOptions& o, const EventHandler& on_event,
                                  std::stop_token stop) {
  const std::string url = p.Url();
  int timeout = o.timeout_seconds;
  if (timeout <= 0) {
    thread_local std::mt19937 rng{std::random_device{}()};
    timeout = 300 + static_cast<int>(rng() % 300);  // client-go: a random 5-10 minutes
  }
  std::string q = "?watch=true";
  if (o.allow_bookmarks) q += "&allowWatchBookmarks=true";
  q += "&timeoutSeconds=" + std::to_string(timeout);
  AddParam(&q, "resourceVersion", o.resource_version);
  AddParam(&q, "labelSelector", o.label_selector);
  AddParam(&q, "fieldSelector", o.field_selector);
  http_request req(methods::GET);
  req.set_request_uri(url + q);
  ApiError err;
  if (!Prepare(&req, "watch", url, &err)) return err;
  bucket_.Wait();
  // A client per watch: the stream holds its connection for minutes. The inactivity timeout is above
  // the server's timeoutSeconds, so only a silent dead connection trips it.
  http_client wc(web::uri(cfg_.server), MakeConfig(std::chrono::seconds(timeout + 30)));
  pplx::cancellation_token_source cts;
  std::stop_callback on_stop(stop, [&cts] { cts.cancel(); });
  try {
    http_response resp = wc.request(req, cts.get_token()).get();
    int code = resp.status_code();
    if (code != 200) {
      std::string text = resp.extract_utf8string(true).get();
      return Decorate(ApiErrorFromResponse(code, text, "watch", url), "watch", p);
    }
    auto buf = resp.body().streambuf();
    std::string pending;
    std::vector<char> chunk(64 * 1024);
    using traits = concurrency::streams::streambuf<uint8_t>::traits;
    while (!stop.stop_requested()) {
      size_t avail = buf.in_avail();
      if (avail == 0) {
        auto c = buf.bumpc().get();  // blocks until a byte, the end, or an error
        if (c == traits::eof()) break;
        pending.push_back(static_cast<char>(c));
        avail = buf.in_avail();
      }
      if (avail > 0) {
        size_t n = buf.getn(reinterpret_cast<uint8_t*>(chunk.data()), std::min(avail, chunk.size())).get();
        pending.append(chunk.data(), n);
      }
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (nl == start) continue;
        web::json::value v = web::json::value::parse(pending.substr(start, nl - start));
        WatchEvent ev;
        ev.type = v.at("type").as_string();
        const auto& obj = v.at("object");
        if (ev.type == "ERROR") {
          cts.cancel();
          return Decorate(ApiErrorFromStatusJson(obj.serialize(), "watch", url), "watch", p);
        }
        ev.object = obj.serialize();
        if (!on_event(ev)) {
          cts.cancel();
          return false;
        }
      }
      pending.erase(0, start);
    }
    if (stop.stop_requested()) return false;
    return true;
  } catch (const std::exception& ex) {
    if (stop.stop_requested()) return false;
    return FromException(ex, "watch", url);
  }
}

}  // namespace

Result<std::unique_ptr<KubeApi>> NewRestClient(const RestConfig& config, const RestClientOptions& options) {
  if (config.server.empty()) return Status::Invalid(config.source + ": no server");
  SU_RETURN_IF_ERROR(CheckTlsMaterial(config));
  try {
    return std::unique_ptr<KubeApi>(std::make_unique<RestClient>(config, options));
  } catch (const std::exception& e) {
    return Status::Invalid(config.source + ": server \"" + config.server + "\": " + e.what());
  }
}

}  // namespace su::kube
