// Status rendering and exit-code mapping.
#include "reconcilers/base/result.h"

namespace su {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "Ok";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNotFound: return "NotFound";
    case Code::kFailed: return "Failed";
    case Code::kDatabase: return "DatabaseError";
    case Code::kIo: return "IoError";
    case Code::kLockBusy: return "LockBusy";
    case Code::kLockTimeout: return "LockTimeout";
    case Code::kGated: return "Gated";
    case Code::kTimeout: return "Timeout";
    case Code::kCancelled: return "Cancelled";
    case Code::kUnavailable: return "Unavailable";
    case Code::kConflict: return "Conflict";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = message_;
  if (!sqlstate_.empty()) s += " (SQLSTATE " + sqlstate_ + ")";
  return s;
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kInvalidArgument:
    case Code::kNotFound: return 2;
    case Code::kLockBusy:
    case Code::kLockTimeout: return 3;
    case Code::kGated: return 4;
    default: return 1;
  }
}

}  // namespace su
