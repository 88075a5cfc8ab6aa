// ApiError: a failed API call as a value. Decoded from the server's metav1.Status (reason, message,
// details.causes) or describing a transport failure (http_status 0). Never holds a token: messages
// pass through Scrub(). ToStatus() maps it onto the project's su::Status codes for callers that only
// propagate; callers that must tell 409 from 410 ask IsConflict()/IsGone().
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "reconcilers/base/result.h"

namespace su::kube {

struct StatusCause {
  std::string reason;   // e.g. FieldValueInvalid
  std::string message;  // e.g. Invalid value: "a b": spec.targetVersion in body should match '...'
  std::string field;    // e.g. spec.targetVersion
};

struct ApiError {
  int http_status = 0;    // 0: no HTTP answer (connect, TLS, timeout)
  std::string reason;     // Status.reason: NotFound, AlreadyExists, Conflict, Expired, Gone, Invalid,
                          // Forbidden, Unauthorized, TooManyRequests, ...; "Transport" when http_status is 0
  std::string message;    // "<VERB> <path>: <server message>", scrubbed
  std::vector<StatusCause> causes;
  int retry_after_seconds = 0;  // from Retry-After or details.retryAfterSeconds

  bool IsNotFound() const { return http_status == 404; }
  bool IsAlreadyExists() const { return http_status == 409 && reason == "AlreadyExists"; }
  bool IsConflict() const { return http_status == 409 && reason != "AlreadyExists"; }
  bool IsGone() const { return http_status == 410 || reason == "Expired" || reason == "Gone"; }
  bool IsInvalid() const { return http_status == 422; }
  bool IsForbidden() const { return http_status == 403; }
  bool IsUnauthorized() const { return http_status == 401; }
  // Worth retrying as is (after a backoff): 429, 5xx, transport failures.
  bool IsRetryable() const { return http_status == 0 || http_status == 429 || http_status >= 500; }

  // 404 kNotFound; 400/422 kInvalidArgument (the message lists the causes); 409/410/429/5xx and transport
  // kUnavailable (retry: re-read, re-list or back off); 401/403 kFailed (credentials or RBAC: fix them).
  Status ToStatus() const;
  // The message with each cause, as the operator shows it: "...; causes: spec.x: ...; spec.y: ...".
  std::string Describe() const;
};

// Decodes a non-2xx answer. body is the response body (a Status JSON or anything else).
// verb and path make the message say what was attempted ("PATCH /apis/.../status").
ApiError ApiErrorFromResponse(int http_status, const std::string& body, const std::string& verb,
                              const std::string& path);
// Decodes the object of a watch ERROR event (a Status).
ApiError ApiErrorFromStatusJson(const std::string& status_json, const std::string& verb, const std::string& path);
ApiError TransportError(const std::string& verb, const std::string& path, const std::string& what);

// ApiResult<T>: a T or an ApiError. Has ok()/status()/value() so SU_ASSIGN_OR_RETURN works on it.
template <typename T>
class ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  ApiResult(ApiError error) : v_(std::move(error)) {}     // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  const ApiError& error() const {
    static const ApiError kNone;
    return ok() ? kNone : std::get<ApiError>(v_);
  }
  Status status() const { return ok() ? Status::Ok() : std::get<ApiError>(v_).ToStatus(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }
  const T& operator*() const& { return std::get<T>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace su::kube
