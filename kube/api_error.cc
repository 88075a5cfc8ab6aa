// ApiError decoding (see api_error.h).
#include "kube/api_error.h"

#include <cpprest/json.h>

#include "reconcilers/base/secrets.h"

namespace su::kube {
namespace {

std::string ReasonForCode(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "Unknown";
  }
}

// Fills reason/message/causes from a metav1.Status; false if json is not one.
bool DecodeStatus(const web::json::value& v, ApiError* e) {
  if (!v.is_object() || !v.has_string_field("kind") || v.at("kind").as_string() != "Status") return false;
  if (v.has_string_field("reason")) e->reason = v.at("reason").as_string();
  if (v.has_string_field("message")) e->message = v.at("message").as_string();
  if (v.has_number_field("code") && e->http_status == 0) e->http_status = v.at("code").as_integer();
  if (v.has_object_field("details")) {
    const auto& d = v.at("details");
    if (d.has_number_field("retryAfterSeconds")) e->retry_after_seconds = d.at("retryAfterSeconds").as_integer();
    if (d.has_array_field("causes")) {
      for (const auto& c : d.at("causes").as_array()) {
        StatusCause sc;
        if (c.has_string_field("reason")) sc.reason = c.at("reason").as_string();
        if (c.has_string_field("message")) sc.message = c.at("message").as_string();
        if (c.has_string_field("field")) sc.field = c.at("field").as_string();
        e->causes.push_back(std::move(sc));
      }
    }
  }
  return true;
}

}  // namespace

ApiError ApiErrorFromResponse(int http_status, const std::string& body, const std::string& verb,
                              const std::string& path) {
  ApiError e;
  e.http_status = http_status;
  bool decoded = false;
  try {
    decoded = DecodeStatus(web::json::value::parse(body), &e);
  } catch (const std::exception&) {
  }
  if (!decoded) {
    std::string b = body.size() > 300 ? body.substr(0, 300) + "..." : body;
    e.message = "HTTP " + std::to_string(http_status) + (b.empty() ? "" : ": " + b);
  }
  if (e.reason.empty()) e.reason = ReasonForCode(http_status);
  e.message = Scrub(verb + " " + path + ": " + e.message);
  for (auto& c : e.causes) c.message = Scrub(c.message);
  return e;
}

ApiError ApiErrorFromStatusJson(const std::string& status_json, const std::string& verb, const std::string& path) {
  ApiError e;
  bool decoded = false;
  try {
    decoded = DecodeStatus(web::json::value::parse(status_json), &e);
  } catch (const std::exception&) {
  }
  if (!decoded) e.message = "an ERROR event without a Status";
  if (e.http_status == 0) e.http_status = 500;
  if (e.reason.empty()) e.reason = ReasonForCode(e.http_status);
  e.message = Scrub(verb + " " + path + ": " + e.message);
  return e;
}

ApiError TransportError(const std::string& verb, const std::string& path, const std::string& what) {
  ApiError e;
  e.http_status = 0;
  e.reason = "Transport";
  e.message = Scrub(verb + " " + path + ": " + what);
  return e;
}

std::string ApiError::Describe() const {
  std::string s = message;
  // kube-apiserver already lists the causes in the message of a 422; repeat them only when absent.
  std::string extra;
  for (const auto& c : causes) {
    std::string one = c.field.empty() ? c.message : c.field + ": " + c.message;
    if (message.find(c.message) == std::string::npos) extra += (extra.empty() ? "" : "; ") + one;
  }
  if (!extra.empty()) s += "; causes: " + extra;
  return s;
}

Status ApiError::ToStatus() const {
  Code code = Code::kFailed;
  if (http_status == 404) code = Code::kNotFound;
  else if (http_status == 400 || http_status == 422 || http_status == 415) code = Code::kInvalidArgument;
  else if (http_status == 409 || IsGone() || IsRetryable()) code = Code::kUnavailable;
  return Status::Error(code, Describe());
}

}  // namespace su::kube
