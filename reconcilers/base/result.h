// Errors as values (leveldb's Status, plus a Result<T> that holds a value or a Status).
// Nothing in this project throws across a module boundary: adapters of throwing libraries
// (yaml-cpp, cpprestsdk) catch at their edge and return a Status naming file, line or field.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace su {

// Codes map onto the CLI's documented exit codes (see ExitCodeFor).
enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad manifest, flag, file or folder: the user must fix input (exit 2)
  kNotFound,         // a named thing does not exist (exit 2)
  kFailed,           // an operation ran and failed (exit 1)
  kDatabase,         // the database reported an error (exit 1); sqlstate() says which
  kIo,               // file system or process error (exit 1)
  kLockBusy,         // another run holds the migration lock (exit 3)
  kLockTimeout,      // lock_timeout hit inside a migration: retryable (exit 3)
  kGated,            // a gate (drift, approval, window, lint) refused to go on (exit 4)
  kTimeout,          // a bounded wait ran out (exit 1)
  kCancelled,        // stopped on request (SIGTERM) (exit 1)
  kUnavailable,      // a dependency (database, podman) cannot be reached: retryable (exit 1)
  kConflict,         // what we read changed under us (a file edited since read): retryable (exit 1)
};

const char* CodeName(Code code);

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(Code code, std::string message) { return Status(code, std::move(message)); }
  static Status Invalid(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }
  static Status Failed(std::string message) { return Status(Code::kFailed, std::move(message)); }
  static Status Io(std::string message) { return Status(Code::kIo, std::move(message)); }
  static Status Database(std::string message, std::string sqlstate) {
    Status s(Code::kDatabase, std::move(message));
    s.sqlstate_ = std::move(sqlstate);
    return s;
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Five-character SQLSTATE for database errors, empty otherwise.
  const std::string& sqlstate() const { return sqlstate_; }

  // Returns a copy whose message is "context: message". Code and sqlstate are kept.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    Status s = *this;
    s.message_ = context + ": " + message_;
    return s;
  }
  Status WithCode(Code code) const {
    Status s = *this;
    s.code_ = code;
    return s;
  }
  std::string ToString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
  std::string sqlstate_;
};

// Result<T> holds either a T or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must not be ok
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }
  const T& operator*() const& { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

// Process exit code for a final status: 0 ok, 1 failed, 2 bad input, 3 lock busy, 4 gated.
int ExitCodeFor(const Status& status);

}  // namespace su

#define SU_CONCAT_INNER(a, b) a##b
#define SU_CONCAT(a, b) SU_CONCAT_INNER(a, b)

#define SU_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::su::Status _su_st = (expr);             \
    if (!_su_st.ok()) return _su_st;          \
  } while (0)

#define SU_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

#define SU_ASSIGN_OR_RETURN(lhs, expr) \
  SU_ASSIGN_OR_RETURN_IMPL(SU_CONCAT(_su_res_, __LINE__), lhs, expr)
