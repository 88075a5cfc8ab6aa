// TokenSource implementations (see token_source.h).
#include "kube/token_source.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "reconcilers/base/secrets.h"

namespace su::kube {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

class StaticTokenSource : public TokenSource {
 public:
  explicit StaticTokenSource(std::string t) : token_(std::move(t)) { RegisterSecret(token_); }
  Result<std::string> Token() override { return token_; }

 private:
  std::string token_;
};

class FileTokenSource : public TokenSource {
 public:
  FileTokenSource(std::string path, std::string what) : path_(std::move(path)), what_(std::move(what)) {}

  Result<std::string> Token() override {
    std::lock_guard<std::mutex> l(mu_);
    struct stat st {};
    if (stat(path_.c_str(), &st) != 0) {
      if (!token_.empty()) return token_;  // a rotation in progress (rename): keep the last token
      return Status::Error(Code::kNotFound, what_ + ": token file " + path_ + " cannot be read");
    }
    if (!token_.empty() && st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec &&
        st.st_size == size_ && st.st_ino == ino_) {
      return token_;
    }
    std::ifstream in(path_, std::ios::binary);
    if (!in) return Status::Error(Code::kNotFound, what_ + ": token file " + path_ + " cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = Trim(ss.str());
    if (t.empty()) {
      if (!token_.empty()) return token_;
      return Status::Invalid(what_ + ": token file " + path_ + " is empty");
    }
    RegisterSecret(t);
    token_ = std::move(t);
    mtime_ = st.st_mtim;
    size_ = st.st_size;
    ino_ = st.st_ino;
    return token_;
  }

 private:
  std::mutex mu_;
  const std::string path_;
  const std::string what_;
  std::string token_;       // guarded by mu_
  struct timespec mtime_{};  // guarded by mu_
  off_t size_ = 0;           // guarded by mu_
  ino_t ino_ = 0;            // guarded by mu_
};

}  // namespace

std::shared_ptr<TokenSource> StaticToken(std::string token) {
  return std::make_shared<StaticTokenSource>(std::move(token));
}

std::shared_ptr<TokenSource> FileToken(std::string path, std::string what) {
  return std::make_shared<FileTokenSource>(std::move(path), std::move(what));
}

}  // namespace su::kube
