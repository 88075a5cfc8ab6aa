// Concurrent edits of one compose file through the compose runtime, on real files in a temp dir:
// two workers (threads of one controller, or two processes) bumping two services of the same file
// never lose a bump; an outside editor's change (a person, GitOps) is never overwritten; a rollout
// starts nothing from a declaration it did not expect and holds the file while podman-compose runs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include "reconcilers/base/file_lock.h"
#include "reconcilers/runtimes/podman/compose_edit.h"
#include "reconcilers/runtimes/podman/podman.h"
#include "tests/support/temp_dir.h"

namespace su {
namespace {

const char* kCompose =
    "# Olympus: identity, OAuth2 and the app, in one file\n"
    "services:\n"
    "  kratos:   # identity\n"
    "    image: oryd/kratos:v1.1.0\n"
    "    container_name: ciam-kratos\n"
    "  hydra:\n"
    "    image: \"oryd/hydra:v2.2.0\"\n"
    "    container_name: ciam-hydra\n";

// Delegates to the real file system; after_read runs after each ReadFile of `path` has read it,
// i.e. in the moment between a read and whatever the caller does next.
class HookedFileSystem : public FileSystem {
 public:
  std::string path;
  std::function<void(int read_number)> after_read;
  int reads = 0;

  Result<std::string> ReadFile(const std::string& p) override {
    auto r = LocalFileSystem()->ReadFile(p);
    if (p == path && after_read) after_read(++reads);
    return r;
  }
  Status WriteFileAtomic(const std::string& p, const std::string& c) override { return LocalFileSystem()->WriteFileAtomic(p, c); }
  Result<std::vector<std::string>> ListDir(const std::string& d) override { return LocalFileSystem()->ListDir(d); }
  bool Exists(const std::string& p) override { return LocalFileSystem()->Exists(p); }
  bool IsDir(const std::string& p) override { return LocalFileSystem()->IsDir(p); }
  Status MakeDirs(const std::string& p) override { return LocalFileSystem()->MakeDirs(p); }
  Status Remove(const std::string& p) override { return LocalFileSystem()->Remove(p); }
};

// Answers every podman call with success; runs on_compose_up while "podman-compose up" runs.
class OkRunner : public ProcessRunner {
 public:
  std::function<void()> on_compose_up;
  std::vector<std::string> argvs;
  std::string inspect_json = R"([{"ImageName":"localhost/oryd/kratos:v1.2.0","State":{"Status":"running","Running":true}}])";
  Result<ProcessResult> Run(const ProcessSpec& spec) override {
    argvs.push_back(FormatArgv(spec.argv));
    ProcessResult r;
    r.exit_code = 0;
    if (spec.argv[0] == "podman-compose" && on_compose_up) on_compose_up();
    if (spec.argv.size() > 1 && spec.argv[1] == "inspect") r.out = inspect_json;
    return r;
  }
};

std::string ReadOr(const std::string& path) {
  auto r = LocalFileSystem()->ReadFile(path);
  return r.ok() ? *r : r.status().ToString();
}

class ComposeConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = dir_.Write("olympus/docker-compose.yml", kCompose);
    kratos_ = Ref("kratos", "ciam-kratos");
    hydra_ = Ref("hydra", "ciam-hydra");
  }
  WorkloadRef Ref(const std::string& service, const std::string& name) {
    WorkloadRef w;
    w.kind = "ComposeService";
    w.name = name;
    w.service = service;
    w.compose_file = file_;
    return w;
  }
  std::string Declared(const std::string& service) {
    auto text = LocalFileSystem()->ReadFile(file_);
    if (!text.ok()) return text.status().ToString();
    auto img = GetServiceImage(*text, service);
    return img.ok() ? *img : img.status().ToString();
  }
  // Bumps w n times (v1.0 -> v1.1 -> ... -> v1.n), each from the image it last wrote, checking
  // after each write that the file still names it. Returns "" or what went wrong.
  static std::string BumpLoop(const WorkloadRef& w, const std::string& repo, const std::string& first, int n) {
    OkRunner runner;
    auto rt = NewComposeWorkloadRuntime(&runner);
    std::string from = first;
    for (int i = 1; i <= n; ++i) {
      std::string to = repo + ":v1." + std::to_string(i);
      Status s = rt->SetDeclaredImage(w, from, to);
      if (!s.ok()) return "bump " + std::to_string(i) + " of " + w.service + ": " + s.ToString();
      auto now = rt->DeclaredImage(w);
      if (!now.ok() || *now != to) {
        return "bump " + std::to_string(i) + " of " + w.service + " lost: the file declares " +
               (now.ok() ? *now : now.status().ToString()) + ", not " + to;
      }
      from = to;
    }
    return "";
  }

  testing::TempDir dir_;
  std::string file_;
  WorkloadRef kratos_, hydra_;
};

TEST_F(ComposeConcurrencyTest, TwoThreadsBumpingTwoServicesOfOneFileNeverLoseABump) {
  constexpr int kBumps = 150;
  std::string kratos_error, hydra_error;
  std::atomic<bool> go{false};
  std::thread a([&] {
    while (!go) std::this_thread::yield();
    kratos_error = BumpLoop(kratos_, "oryd/kratos", "oryd/kratos:v1.1.0", kBumps);
  });
  std::thread b([&] {
    while (!go) std::this_thread::yield();
    hydra_error = BumpLoop(hydra_, "oryd/hydra", "oryd/hydra:v2.2.0", kBumps);
  });
  go = true;
  a.join();
  b.join();
  EXPECT_EQ(kratos_error, "");
  EXPECT_EQ(hydra_error, "");
  EXPECT_EQ(Declared("kratos"), "oryd/kratos:v1." + std::to_string(kBumps));
  EXPECT_EQ(Declared("hydra"), "oryd/hydra:v1." + std::to_string(kBumps));
  // Only the two image values changed: comments and quoting are the file's own.
  std::string want = kCompose;
  want.replace(want.find("oryd/kratos:v1.1.0"), 18, "oryd/kratos:v1." + std::to_string(kBumps));
  want.replace(want.find("oryd/hydra:v2.2.0"), 17, "oryd/hydra:v1." + std::to_string(kBumps));
  EXPECT_EQ(LocalFileSystem()->ReadFile(file_).value(), want);
  EXPECT_EQ(LocalFileSystem()->ListDir(dir_.Path("olympus")).value(), std::vector<std::string>{"docker-compose.yml"})
      << "temporary files left behind";
}

TEST_F(ComposeConcurrencyTest, TwoProcessesBumpingTwoServicesOfOneFileNeverLoseABump) {
  constexpr int kBumps = 100;
  // Each child writes what went wrong to its own file and exits 0 (fine) or 1.
  auto spawn = [&](const WorkloadRef& w, const std::string& repo, const std::string& first, const std::string& report) {
    pid_t pid = fork();
    if (pid == 0) {
      std::string err = BumpLoop(w, repo, first, kBumps);
      (void)LocalFileSystem()->WriteFileAtomic(report, err);
      _exit(err.empty() ? 0 : 1);
    }
    return pid;
  };
  std::string kratos_report = dir_.Path("kratos.report"), hydra_report = dir_.Path("hydra.report");
  pid_t a = spawn(kratos_, "oryd/kratos", "oryd/kratos:v1.1.0", kratos_report);
  pid_t b = spawn(hydra_, "oryd/hydra", "oryd/hydra:v2.2.0", hydra_report);
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  int sa = 0, sb = 0;
  ASSERT_EQ(waitpid(a, &sa, 0), a);
  ASSERT_EQ(waitpid(b, &sb, 0), b);
  EXPECT_TRUE(WIFEXITED(sa) && WEXITSTATUS(sa) == 0) << ReadOr(kratos_report);
  EXPECT_TRUE(WIFEXITED(sb) && WEXITSTATUS(sb) == 0) << ReadOr(hydra_report);
  EXPECT_EQ(Declared("kratos"), "oryd/kratos:v1." + std::to_string(kBumps));
  EXPECT_EQ(Declared("hydra"), "oryd/hydra:v1." + std::to_string(kBumps));
}

TEST_F(ComposeConcurrencyTest, AnOutsideEditBetweenReadAndWriteIsKeptAndTheBumpIsMadeOnTopOfIt) {
  HookedFileSystem fs;
  fs.path = file_;
  // Right after the runtime's first read, a person saves the file in an editor: a new comment and
  // hydra's image changed. Writing the runtime's stale copy would drop both.
  fs.after_read = [&](int n) {
    if (n != 1) return;
    std::string t = kCompose;
    t.replace(t.find("# identity"), 10, "# identity (pinned by ops, see TICKET-7)");
    t.replace(t.find("oryd/hydra:v2.2.0"), 17, "oryd/hydra:v2.3.0");
    ASSERT_TRUE(LocalFileSystem()->WriteFileAtomic(file_, t).ok());
  };
  OkRunner runner;
  PodmanConfig cfg;
  cfg.fs = &fs;
  auto rt = NewComposeWorkloadRuntime(&runner, cfg);
  Status s = rt->SetDeclaredImage(kratos_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0");
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string text = LocalFileSystem()->ReadFile(file_).value();
  EXPECT_NE(text.find("# identity (pinned by ops, see TICKET-7)"), std::string::npos) << text;
  EXPECT_EQ(Declared("hydra"), "oryd/hydra:v2.3.0");
  EXPECT_EQ(Declared("kratos"), "oryd/kratos:v1.2.0");
}

TEST_F(ComposeConcurrencyTest, AServiceImageChangedSinceTheUpgradeReadItIsNotOverwritten) {
  OkRunner runner;
  auto rt = NewComposeWorkloadRuntime(&runner);
  // GitOps moved kratos to v1.3.0 after the upgrade planned its bump from v1.1.0.
  std::string t = kCompose;
  t.replace(t.find("oryd/kratos:v1.1.0"), 18, "oryd/kratos:v1.3.0");
  ASSERT_TRUE(LocalFileSystem()->WriteFileAtomic(file_, t).ok());
  Status s = rt->SetDeclaredImage(kratos_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0");
  ASSERT_EQ(s.code(), Code::kConflict) << s.ToString();
  EXPECT_NE(s.message().find("now declares oryd/kratos:v1.3.0, not oryd/kratos:v1.1.0"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(file_), std::string::npos) << s.message();
  EXPECT_EQ(LocalFileSystem()->ReadFile(file_).value(), t);
  // Already at the target: nothing to write, success.
  EXPECT_TRUE(rt->SetDeclaredImage(kratos_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.3.0").ok());
}

TEST_F(ComposeConcurrencyTest, TheSameServiceEditedBetweenReadAndWriteIsNotOverwritten) {
  HookedFileSystem fs;
  fs.path = file_;
  std::string gitops = kCompose;
  gitops.replace(gitops.find("oryd/kratos:v1.1.0"), 18, "oryd/kratos:v1.3.0");
  fs.after_read = [&](int n) {
    if (n == 1) {
      ASSERT_TRUE(LocalFileSystem()->WriteFileAtomic(file_, gitops).ok());
    }
  };
  OkRunner runner;
  PodmanConfig cfg;
  cfg.fs = &fs;
  auto rt = NewComposeWorkloadRuntime(&runner, cfg);
  Status s = rt->SetDeclaredImage(kratos_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0");
  EXPECT_EQ(s.code(), Code::kConflict) << s.ToString();
  EXPECT_EQ(LocalFileSystem()->ReadFile(file_).value(), gitops);
}

TEST_F(ComposeConcurrencyTest, RolloutStartsNothingWhenTheFileDeclaresAnotherImage) {
  OkRunner runner;
  auto rt = NewComposeWorkloadRuntime(&runner);
  // The caller just wrote v1.2.0, but the file says v1.1.0 (its bump was lost, or reverted).
  Status s = rt->Rollout(kratos_, "oryd/kratos:v1.2.0");
  ASSERT_EQ(s.code(), Code::kConflict) << s.ToString();
  EXPECT_NE(s.message().find("declares oryd/kratos:v1.1.0, not oryd/kratos:v1.2.0"), std::string::npos) << s.message();
  for (const auto& a : runner.argvs) {
    EXPECT_EQ(a.find("podman rm"), std::string::npos) << a;
    EXPECT_EQ(a.find("podman-compose"), std::string::npos) << a;
  }
}

TEST_F(ComposeConcurrencyTest, RolloutHoldsTheFileWhilePodmanComposeReadsIt) {
  OkRunner runner;
  PodmanConfig cfg;
  cfg.file_lock_wait = std::chrono::milliseconds(0);
  auto rt = NewComposeWorkloadRuntime(&runner, cfg);
  ASSERT_TRUE(rt->SetDeclaredImage(kratos_, "oryd/kratos:v1.1.0", "oryd/kratos:v1.2.0").ok());
  Status other;
  runner.on_compose_up = [&] {
    // Another worker bumping hydra while kratos's container is being started must wait.
    std::thread t([&] {
      OkRunner r2;
      auto rt2 = NewComposeWorkloadRuntime(&r2, cfg);
      other = rt2->SetDeclaredImage(hydra_, "oryd/hydra:v2.2.0", "oryd/hydra:v2.3.0");
    });
    t.join();
  };
  Status s = rt->Rollout(kratos_, "oryd/kratos:v1.2.0");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(other.code(), Code::kTimeout) << other.ToString();
  EXPECT_EQ(Declared("hydra"), "oryd/hydra:v2.2.0");
  // Once the rollout is done, the file is free again.
  EXPECT_TRUE(rt->SetDeclaredImage(hydra_, "oryd/hydra:v2.2.0", "oryd/hydra:v2.3.0").ok());
}

// Threads of one process: a second Acquire waits for the holder (and sees what it wrote under the
// lock), times out while it is held, and gets the lock at once when it is free. Under make tsan
// this also proves the in-process lock is visible to ThreadSanitizer (std::timed_mutex's
// try_lock_until was not: every release was reported as an unlock of an unlocked mutex).
TEST(FileLockTest, ThreadsOfOneProcessTakeTurnsAndSeeEachOthersWrites) {
  testing::TempDir dir;
  std::string file = dir.Write("f.yml", "x: 1\n");
  int written = 0;  // guarded by the folder lock, deliberately not atomic
  std::promise<void> holding, release;
  std::thread holder([&] {
    auto l = FileLock::Acquire(file, std::chrono::seconds(10));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    holding.set_value();
    release.get_future().wait();
    written = 42;
  });
  holding.get_future().wait();
  auto busy = FileLock::Acquire(file, std::chrono::milliseconds(0));
  EXPECT_EQ(busy.status().code(), Code::kTimeout) << busy.status().ToString();
  std::thread waiter([&] {
    auto l = FileLock::Acquire(file, std::chrono::seconds(60));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    EXPECT_EQ(written, 42);
    written = 43;
  });
  release.set_value();
  holder.join();
  waiter.join();
  auto again = FileLock::Acquire(file, std::chrono::milliseconds(0));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(written, 43);
}

TEST(FileLockTest, ExcludesAnotherProcessUntilReleasedAndDiesWithItsHolder) {
  testing::TempDir dir;
  std::string file = dir.Write("f.yml", "x: 1\n");
  // This process never takes the lock itself, so forked children start with it free in memory
  // and only flock can keep them apart. Child exit codes: 0 acquired, 3 timed out, 4 other error.
  auto try_in_child = [&](std::chrono::milliseconds wait) {
    pid_t pid = fork();
    if (pid == 0) {
      auto l = FileLock::Acquire(file, wait);
      _exit(l.ok() ? 0 : l.status().code() == Code::kTimeout ? 3 : 4);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  // A holder that says "a" once it holds the lock, releases it on "r", says "r" and stays alive.
  int to_parent[2], to_holder[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_holder), 0);
  pid_t holder = fork();
  if (holder == 0) {
    char c = 0;
    {
      auto l = FileLock::Acquire(file, std::chrono::seconds(10));
      if (!l.ok()) _exit(4);
      (void)!write(to_parent[1], "a", 1);
      (void)!read(to_holder[0], &c, 1);
    }
    (void)!write(to_parent[1], "r", 1);
    for (;;) pause();
  }
  char c = 0;
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  EXPECT_EQ(try_in_child(std::chrono::milliseconds(200)), 3);
  ASSERT_EQ(write(to_holder[1], "r", 1), 1);
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  EXPECT_EQ(try_in_child(std::chrono::milliseconds(0)), 0);
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);

  // A holder killed with the lock held (kill -9) does not leave the folder locked.
  pid_t killed = fork();
  if (killed == 0) {
    auto l = FileLock::Acquire(file, std::chrono::seconds(10));
    if (!l.ok()) _exit(4);
    (void)!write(to_parent[1], "a", 1);
    for (;;) pause();
  }
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  EXPECT_EQ(try_in_child(std::chrono::milliseconds(0)), 3);
  kill(killed, SIGKILL);
  waitpid(killed, nullptr, 0);
  EXPECT_EQ(try_in_child(std::chrono::seconds(5)), 0);
  for (int fd : {to_parent[0], to_parent[1], to_holder[0], to_holder[1]}) close(fd);
}

}  // namespace
}  // namespace su
