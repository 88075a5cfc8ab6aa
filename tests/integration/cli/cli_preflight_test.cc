// Pre-flight through the real binary, real PostgreSQL and real podman / podman-compose: every
// check that can refuse an upgrade refuses before its first change. For each refusal (target
// image neither present nor pullable, an interpolated image: line whose variable is set, a digest
// pin, a downgrade) the test asserts that the compose file is byte-identical, the database holds
// exactly what it held (history and tables), and no backup was taken. One case goes all the way:
// an interpolated image: line is bumped inside its braces and the container runs the new image.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "reconcilers/base/fs.h"
#include "reconcilers/base/process.h"
#include "tests/integration/cli/cli_fixture.h"

namespace su::testing {
namespace {

Result<ProcessResult> Podman(std::vector<std::string> args) {
  ProcessSpec ps;
  args.insert(args.begin(), "podman");
  ps.argv = std::move(args);
  ps.env = {{"CONTAINERS_CONF", SourceDir() + "/tests/fixtures/podman/containers.conf"}};
  ps.timeout = std::chrono::minutes(2);
  return PosixProcessRunner()->Run(ps);
}

std::string Pid() { return std::to_string(getpid()); }
// Unique per test process: images, containers and the compose project never clash with others'.
std::string Repo() { return "localhost/sutest-preflight-" + Pid() + "/app"; }
std::string Container() { return "sutest-preflight-" + Pid() + "-app"; }
std::string Project() { return "stack" + Pid(); }

class CliPreflightTest : public CliFixture {
 protected:
  void SetUp() override {
    CliFixture::SetUp();
    WriteMigration(1, "accounts", "CREATE TABLE accounts (id int PRIMARY KEY);");
    WriteMigration(2, "sessions", "CREATE TABLE sessions (id int PRIMARY KEY);");
  }
  void TearDown() override {
    (void)Podman({"rm", "-f", "-t", "0", "--ignore", Container()});
    (void)Podman({"network", "rm", "-f", Project() + "_default"});
    for (const char* tag : {"v1", "v2"}) (void)Podman({"rmi", "-f", "--ignore", Repo() + ":" + tag});
  }

  std::string WriteCompose(const std::string& image_value) {
    compose_ = dir_.Write(Project() + "/docker-compose.yml",
                          "# the stack (every byte but the image value must survive)\n"
                          "services:\n"
                          "  app:\n"
                          "    image: " + image_value + "   # bumped by schema-upgrade\n"
                          "    container_name: " + Container() + "\n"
                          "    restart: \"no\"\n");
    return ReadCompose();
  }
  std::string ReadCompose() { return LocalFileSystem()->ReadFile(compose_).value(); }

  // m.yaml: the sql engine on migrations/, the compose service app, backups on.
  void WriteUpgrade(const std::string& target_version, const std::vector<std::string>& extra = {}) {
    std::string text =
        "apiVersion: olympus.io/v1alpha1\n"
        "kind: SchemaUpgrade\n"
        "metadata: {name: app, namespace: clitest}\n"
        "spec:\n"
        "  targetVersion: " + target_version + "\n"
        "  workload: {kind: ComposeService, name: " + Container() + ", service: app, composeFile: " + compose_ + "}\n"
        "  database: {dsnFrom: {env: " + std::string(kDsnVar) + "}}\n"
        "  migrations: {engine: sql, path: migrations}\n"
        "  policy:\n"
        "    lockWait: 5s\n"
        "    backup: {enabled: true}\n"
        "    verify: {settle: 1s}\n"
        "    retries: {limit: 3, backoff: {initial: 1s, max: 2s}}\n";
    for (const auto& l : extra) text += l + "\n";
    dir_.Write("m.yaml", text);
  }

  int Backups() {
    std::error_code ec;
    int n = 0;
    for (auto it = std::filesystem::directory_iterator(dir_.Path("state/backups"), ec);
         !ec && it != std::filesystem::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  }

  // The refusal left everything as it was.
  void ExpectUntouched(const std::string& compose_before, const std::vector<std::string>& history,
                       const std::string& dump_before) {
    EXPECT_EQ(ReadCompose(), compose_before) << "the compose file changed";
    EXPECT_EQ(History(), history);
    EXPECT_EQ(SchemaDump(), dump_before) << "the database schema changed";
    EXPECT_EQ(Backups(), 0) << "a backup was taken";
  }

  std::string compose_;
};

TEST_F(CliPreflightTest, ATargetImageThatCannotBeHadChangesNothing) {
  std::string compose = WriteCompose(Repo() + ":v1");
  WriteUpgrade("v9.9.9-typo");
  std::string dump = SchemaDump();
  CliResult r = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "ImageUnavailable")) << r.out;
  EXPECT_TRUE(Contains(r.out, Repo() + ":v9.9.9-typo")) << r.out;
  EXPECT_TRUE(Contains(r.out, "nothing was changed")) << r.out;
  EXPECT_FALSE(Contains(r.out, "on failure")) << r.out;
  ExpectUntouched(compose, {}, dump);
  EXPECT_FALSE(TableExists("accounts"));
  // plan said so beforehand, and pulled nothing.
  CliResult p = Run({"plan", "-f", Manifest()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Contains(p.out, "is not present: apply pulls it before the backup")) << p.out;
}

TEST_F(CliPreflightTest, AnInterpolatedImageWhoseVariableIsSetIsRefusedNotOverwritten) {
  std::string compose = WriteCompose("${APP_IMAGE:-" + Repo() + ":v1}");
  dir_.Write(Project() + "/.env", "APP_IMAGE=" + Repo() + ":ci-build-7\n");
  WriteUpgrade("v2");
  std::string dump = SchemaDump();
  CliResult p = Run({"plan", "-f", Manifest()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Contains(p.out, "REFUSED: apply will change nothing")) << p.out;
  EXPECT_TRUE(Contains(p.out, "APP_IMAGE")) << p.out;
  EXPECT_FALSE(Contains(p.out, "${APP_IMAGE:-" + Repo() + ":v2\n")) << "a mangled reference: " << p.out;
  CliResult r = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "BumpRefused") || Contains(r.out, "APP_IMAGE")) << r.out;
  EXPECT_TRUE(Contains(r.out, "does not overwrite the operator's variable")) << r.out;
  ExpectUntouched(compose, {}, dump);
}

TEST_F(CliPreflightTest, ADigestPinIsNotReplacedByATag) {
  std::string compose = WriteCompose(Repo() + "@sha256:" + std::string(64, 'a'));
  WriteUpgrade("v2");
  std::string dump = SchemaDump();
  CliResult p = Run({"plan", "-f", Manifest()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Contains(p.out, "pinned by digest")) << p.out;
  CliResult r = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "pinned by digest")) << r.out;
  ExpectUntouched(compose, {}, dump);
}

TEST_F(CliPreflightTest, ADowngradeIsRefusedNamingTheVersionsTheDatabaseHoldsBeyondTheTarget) {
  // The database is at v1.5.0: three migrations (a workload-less apply puts them there).
  WriteMigration(3, "devices", "CREATE TABLE devices (id int PRIMARY KEY);");
  WriteManifest();
  CliResult up = Run({"apply", "-f", Manifest()});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  ASSERT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2), Ver(3)}));
  // A reverted bump PR: the v1.2.0 source knows migrations 1 and 2 only.
  ASSERT_TRUE(LocalFileSystem()->Remove(dir_.Path("migrations/" + Ver(3) + "_devices.up.sql")).ok());
  std::string compose = WriteCompose(Repo() + ":v1.5.0");
  WriteUpgrade("v1.2.0");
  std::string dump = SchemaDump();
  CliResult p = Run({"plan", "-f", Manifest()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Contains(p.out, "DOWNGRADE")) << p.out;
  EXPECT_TRUE(Contains(p.out, Ver(3))) << p.out;
  CliResult r = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "downgrade refused")) << r.out;
  EXPECT_TRUE(Contains(r.out, Ver(3))) << r.out;
  EXPECT_TRUE(Contains(r.out, "allowDowngrade")) << r.out;
  ExpectUntouched(compose, {Ver(1), Ver(2), Ver(3)}, dump);
}

// The whole way, on real podman-compose: `"${SUTEST_REGISTRY:-localhost}/...:v1"` is bumped inside
// the value, keeping the variable, and the container runs v2.
TEST_F(CliPreflightTest, AnInterpolatedImageIsBumpedKeepingItsVariableAndTheNewImageRuns) {
  // Two tiny images (a static busybox that stays up), named uniquely for this process.
  std::string root = dir_.Path("rootfs");
  ASSERT_TRUE(LocalFileSystem()->MakeDirs(root + "/bin").ok());
  ASSERT_EQ(symlink("busybox", (root + "/bin/sh").c_str()), 0);
  std::filesystem::copy_file("/bin/busybox", root + "/bin/busybox");
  ProcessSpec tar;
  tar.argv = {"tar", "-C", root, "-cf", dir_.Path("rootfs.tar"), "."};
  ASSERT_TRUE(PosixProcessRunner()->Run(tar).value().Succeeded());
  for (const char* tag : {"v1", "v2"}) {
    auto imp = Podman({"import", "--change",
                       "ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]",
                       dir_.Path("rootfs.tar"), Repo() + ":" + tag});
    ASSERT_TRUE(imp.ok() && imp->Succeeded()) << (imp.ok() ? imp->Tail(5) : imp.status().ToString());
  }
  std::string path = Repo().substr(std::string("localhost/").size());
  WriteCompose("\"${SUTEST_REGISTRY:-localhost}/" + path + ":v1\"");
  WriteUpgrade("v2");
  CliResult p = Run({"plan", "-f", Manifest()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Contains(p.out, "keeping the variable")) << p.out;
  EXPECT_TRUE(Contains(p.out, "${SUTEST_REGISTRY:-localhost}/" + path + ":v2")) << p.out;
  CliResult r = Run({"apply", "-f", Manifest()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ReadCompose(),
            "# the stack (every byte but the image value must survive)\n"
            "services:\n"
            "  app:\n"
            "    image: \"${SUTEST_REGISTRY:-localhost}/" + path + ":v2\"   # bumped by schema-upgrade\n"
            "    container_name: " + Container() + "\n"
            "    restart: \"no\"\n");
  auto ps = Podman({"inspect", "--format", "{{.ImageName}} {{.State.Running}}", Container()});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, Repo() + ":v2 true\n") << ps->err;
  EXPECT_EQ(History(), (std::vector<std::string>{Ver(1), Ver(2)}));
}

}  // namespace
}  // namespace su::testing
