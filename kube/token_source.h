// TokenSource: where the bearer token of each request comes from. A fixed token (kubeconfig
// `token`) or a file re-read when it changes (kubeconfig `tokenFile`, the in-cluster service-account
// token, which the kubelet rotates). Every token read is registered with Scrub() (base/secrets.h),
// so it never reaches a log line or an error message.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "reconcilers/base/result.h"

namespace su::kube {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The current token. Thread-safe. An error names the file, never the token.
  virtual Result<std::string> Token() = 0;
};

std::shared_ptr<TokenSource> StaticToken(std::string token);

// Re-reads path when its modification time or size changes (checked with stat() on every call,
// which costs a syscall per request and picks up a rotation at once). Surrounding whitespace is
// trimmed. `what` says where the path came from, for errors (e.g. "kubeconfig /x: users[dev].tokenFile").
std::shared_ptr<TokenSource> FileToken(std::string path, std::string what);

}  // namespace su::kube
