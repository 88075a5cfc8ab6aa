// Previous version of the tree, from a git ref or a folder (see previous_source.h).
#include "reconcilers/offline/previous_source.h"

#include <filesystem>

namespace su {
namespace {

namespace stdfs = std::filesystem;

// rel when path is inside root ("" for root itself), nullopt-like "\x01" marker otherwise.
bool RelativeTo(const std::string& root, const std::string& path, std::string* rel) {
  if (path == root) {
    *rel = "";
    return true;
  }
  std::string r = root == "/" ? root : root + "/";
  if (path.compare(0, r.size(), r) != 0) return false;
  *rel = path.substr(r.size());
  return true;
}

class FolderSource : public PreviousSource {
 public:
  FolderSource(FileSystem* fs, std::string current_root, std::string previous_root)
      : fs_(fs), current_(std::move(current_root)), previous_(std::move(previous_root)) {}

  Result<std::string> Get(const std::string& current_path) override {
    std::string rel;
    std::string abs = AbsolutePath(current_path);
    if (!RelativeTo(current_, abs, &rel)) {
      return Status::Invalid(current_path + " is outside the working directory " + current_ +
                             ", so --from " + previous_ + " (its previous version) cannot hold it");
    }
    std::string p = rel.empty() ? previous_ : JoinPath(previous_, rel);
    if (!fs_->Exists(p)) return Status::Error(Code::kNotFound, p + ": not in the previous version (" + label() + ")");
    return p;
  }

  Result<std::string> GetPrevious(const std::string& previous_path) override {
    std::string p = AbsolutePath(previous_path);
    if (!fs_->Exists(p)) return Status::Error(Code::kNotFound, p + ": not in the previous version (" + label() + ")");
    return p;
  }

  std::string label() const override { return "folder " + previous_; }

 private:
  FileSystem* fs_;
  std::string current_, previous_;
};

class GitSource : public PreviousSource {
 public:
  GitSource(ProcessRunner* runner, std::string top, std::string ref, std::string scratch)
      : runner_(runner), top_(std::move(top)), ref_(std::move(ref)), scratch_(std::move(scratch)),
        tree_(JoinPath(scratch_, "tree")) {}

  Result<std::string> Get(const std::string& current_path) override {
    std::string rel;
    std::string abs = AbsolutePath(current_path);
    if (!RelativeTo(top_, abs, &rel)) {
      return Status::Invalid(current_path + " is outside the git repository " + top_ + "; " + ref_ +
                             " cannot hold its previous version");
    }
    return Fetch(rel);
  }

  Result<std::string> GetPrevious(const std::string& previous_path) override {
    std::string rel;
    std::string abs = AbsolutePath(previous_path);
    if (!RelativeTo(AbsolutePath(tree_), abs, &rel)) {
      return Status::Invalid(previous_path + " (named by the manifest at " + ref_ +
                             ") is outside the git repository, so it cannot be read from " + ref_);
    }
    return Fetch(rel);
  }

  std::string label() const override { return ref_; }

 private:
  Result<std::string> Fetch(const std::string& rel) {
    const std::string object = ref_ + ":" + rel;
    SU_ASSIGN_OR_RETURN(ProcessResult exists, Git({"cat-file", "-e", object}));
    if (!exists.Succeeded()) {
      return Status::Error(Code::kNotFound, rel + ": not in " + ref_ + " (the previous version)");
    }
    std::error_code ec;
    stdfs::create_directories(tree_, ec);
    if (ec) return Status::Io("cannot create " + tree_ + ": " + ec.message());
    const std::string tar = JoinPath(scratch_, "previous.tar");
    std::vector<std::string> archive = {"archive", "--format=tar", "-o", tar, ref_};
    if (!rel.empty()) {
      archive.push_back("--");
      archive.push_back(rel);
    }
    SU_ASSIGN_OR_RETURN(ProcessResult a, Git(archive));
    if (!a.Succeeded()) return Status::Io("git archive " + ref_ + " -- " + rel + " failed: " + a.Tail(5));
    ProcessSpec x;
    x.argv = {"tar", "-xf", tar, "-C", tree_};
    x.timeout = std::chrono::minutes(5);
    SU_ASSIGN_OR_RETURN(ProcessResult t, runner_->Run(x));
    stdfs::remove(tar, ec);
    if (!t.Succeeded()) return Status::Io("extracting " + rel + " of " + ref_ + " failed: " + t.Tail(5));
    return rel.empty() ? tree_ : JoinPath(tree_, rel);
  }

  Result<ProcessResult> Git(std::vector<std::string> args) {
    ProcessSpec s;
    s.argv = {"git", "-C", top_};
    s.argv.insert(s.argv.end(), args.begin(), args.end());
    s.timeout = std::chrono::minutes(5);
    return runner_->Run(s);
  }

  ProcessRunner* runner_;
  std::string top_, ref_, scratch_, tree_;
};

}  // namespace

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  stdfs::path p = stdfs::weakly_canonical(stdfs::absolute(path, ec), ec);
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

Result<std::unique_ptr<PreviousSource>> OpenPreviousSource(const std::string& from, FileSystem* fs,
                                                           ProcessRunner* runner, const std::string& scratch_dir) {
  if (from.empty()) return Status::Invalid("--from needs a git ref or a folder");
  if (fs->IsDir(from)) {
    return std::unique_ptr<PreviousSource>(new FolderSource(fs, AbsolutePath("."), AbsolutePath(from)));
  }
  if (from[0] == '-') return Status::Invalid("--from " + from + ": a git ref cannot start with '-'");
  ProcessSpec top;
  top.argv = {"git", "rev-parse", "--show-toplevel"};
  top.timeout = std::chrono::minutes(1);
  auto t = runner->Run(top);
  if (!t.ok()) return Status::Invalid("--from " + from + ": not a folder, and git is not available to read it as a ref: " + t.status().message());
  if (!t->Succeeded()) {
    return Status::Invalid("--from " + from + ": not a folder, and the working directory is not in a git repository "
                           "to read it as a ref (" + t->Tail(2) + ")");
  }
  std::string root = t->out;
  while (!root.empty() && (root.back() == '\n' || root.back() == '\r')) root.pop_back();
  ProcessSpec verify;
  verify.argv = {"git", "-C", root, "rev-parse", "--verify", "--quiet", "--end-of-options", from + "^{commit}"};
  verify.timeout = std::chrono::minutes(1);
  SU_ASSIGN_OR_RETURN(ProcessResult v, runner->Run(verify));
  if (!v.Succeeded()) {
    return Status::Invalid("--from " + from + ": neither a folder nor a commit git knows in " + root +
                           " (fetch it first, e.g. git fetch origin main, or use the full ref origin/main)");
  }
  return std::unique_ptr<PreviousSource>(new GitSource(runner, AbsolutePath(root), from, scratch_dir));
}

}  // namespace su
