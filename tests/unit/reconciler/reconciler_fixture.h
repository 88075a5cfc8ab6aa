// Test fixture for the SchemaUpgrade reconciler: every edge is a fake (database sessions, engine,
// workload runtime, backup tool, blocked-session watch, file system, clock, status store), so a
// test sets up a world, runs passes, and asserts on what each edge saw and on the stored status.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "reconcilers/base/clock.h"
#include "reconcilers/runtimes/image_ref.h"
#include "reconcilers/schemaupgrade/reconciler.h"
#include "reconcilers/schemaupgrade/status_store.h"
#include "tests/support/fakes/fake_backup.h"
#include "tests/support/fakes/fake_database.h"
#include "tests/support/fakes/fake_engine.h"
#include "tests/support/fakes/fake_filesystem.h"
#include "tests/support/fakes/fake_watch.h"
#include "tests/support/fakes/fake_workload.h"

namespace su::testing {

inline constexpr const char* kOldImage = "localhost/oryd/kratos:v1.1.0";
inline constexpr const char* kNewImage = "localhost/oryd/kratos:v1.2.0";
inline constexpr const char* kDsn = "postgres://kratos:s3cret-pw@db.internal:5432/kratos";

inline Clock::TimePoint At(const std::string& rfc3339) {
  Clock::TimePoint t;
  EXPECT_TRUE(ParseTime(rfc3339, &t)) << rfc3339;
  return t;
}

class ReconcilerFixture : public ::testing::Test {
 protected:
  ReconcilerFixture() : clock_(At("2026-03-02T10:00:00Z")) {}  // a Monday

  void SetUp() override {
    rt_.declared = kOldImage;
    rt_.running_image = kOldImage;
    world_.applied = {{"20240101000001", "init", "sum-init", "2024-01-01T00:00:00Z"}};
    world_.pending = {FakePending("20240201000001", "identities"), FakePending("20240201000002", "sessions"),
                      FakePending("20240201000003", "courier")};
    world_.journal = &journal_;
    rt_.journal = &journal_;
    backup_.journal = &journal_;
    su_ = MakeSu();
  }

  static SchemaUpgrade MakeSu() {
    SchemaUpgrade su;
    su.name = "kratos";
    su.namespace_ = "ciam";
    su.generation = 3;
    su.service = "kratos";
    su.target_version = "v1.2.0";
    su.workload.kind = "ComposeService";
    su.workload.name = "ciam-kratos";
    su.dsn.kind = DsnSource::Kind::kEnv;
    su.dsn.env = "KRATOS_DSN";
    su.migrations.engine = "sql";
    su.policy.retries.limit = 3;
    su.policy.retries.initial_backoff = std::chrono::seconds(5);
    su.policy.retries.max_backoff = std::chrono::seconds(12);
    su.policy.lock_wait = std::chrono::seconds(1);
    su.spec_hash = "spec-hash-1";
    return su;
  }

  ReconcilerDeps Deps() {
    ReconcilerDeps d;
    d.clock = &clock_;
    d.fs = &fs_;
    d.store = store_.get();
    d.connect = [this](const std::string& dsn, const std::string& app) { return db_.Connect(dsn, app); };
    d.make_engine = [this](const SchemaUpgrade&, const std::string& dsn,
                           const std::string& image) -> Result<std::unique_ptr<Engine>> {
      engine_dsns_.push_back(dsn);
      engine_images_.push_back(image);
      return std::unique_ptr<Engine>(std::make_unique<FakeEngine>(&world_));
    };
    d.workloads = &rt_;
    d.verify = [this](WorkloadRuntime* rt, const WorkloadRef& w, const std::string& image,
                      std::chrono::milliseconds, Clock*) -> Status {
      ++verify_calls_;
      journal_.push_back("verify");
      verified_images_.push_back(image);
      if (!verify_results_.empty()) {
        Status s = verify_results_.front();
        verify_results_.pop_front();
        return s;
      }
      auto ws = rt->Observe(w);
      if (!ws.ok()) return ws.status();
      if (!ws->running || !SameImage(ws->image, image)) return Status::Failed("workload does not run " + image);
      return Status::Ok();
    };
    d.backup = &backup_;
    if (use_watch_) d.watch = [this](const std::string&) { return std::make_unique<FakeMigrationWatch>(&watch_); };
    d.getenv = [](const char* name) -> const char* { return std::string(name) == "KRATOS_DSN" ? kDsn : nullptr; };
    d.default_backup_dir = "/state/backups";
    d.cancelled = [this] { return cancelled_ && cancelled_(); };
    d.on_event = [this](const std::string& key, const std::string& type, const std::string& reason,
                        const std::string& message) {
      events_.push_back(key + " " + type + " " + reason + ": " + message);
    };
    return d;
  }

  ReconcileOutcome Run(const ReconcileOptions& options = {}) {
    Reconciler r(Deps());
    return r.Reconcile(su_, options);
  }

  // A pass that refused (a gate, pre-flight) changed nothing: no migration, no image edit, no
  // rollout, no backup; the three pending migrations are still pending.
  void ExpectWorldUntouched() {
    EXPECT_EQ(world_.applies, 0);
    EXPECT_TRUE(rt_.set_calls.empty());
    EXPECT_EQ(rt_.rollouts, 0);
    EXPECT_TRUE(backup_.backup_paths.empty());
    EXPECT_EQ(world_.pending.size(), 3u);
    EXPECT_EQ(rt_.declared, kOldImage);
  }

  ResourceStatus Stored() {
    auto r = store_->Load(su_.Key());
    EXPECT_TRUE(r.ok());
    if (!r.ok() || !r->has_value()) {
      ADD_FAILURE() << "no status stored for " << su_.Key();
      return {};
    }
    return **r;
  }

  // Plays a crash: the status store holds only `snapshot` (what the dead pass had saved).
  void ReplaceStoreWith(const ResourceStatus& snapshot) {
    store_ = NewMemoryStatusStore();
    ASSERT_TRUE(store_->Save(su_.Key(), snapshot).ok());
  }

  static std::string Cond(const ResourceStatus& s, const std::string& type) {
    const Condition* c = FindCondition(s, type);
    return c ? c->status + "/" + c->reason : "(none)";
  }

  int EventsWithReason(const std::string& reason) const {
    int n = 0;
    for (const auto& e : events_) n += e.find(" " + reason + ": ") != std::string::npos;
    return n;
  }

  // Audit rows written by the reconciler itself (Record), whose direction is `direction`.
  int AuditRecords(const std::string& direction) const {
    int n = 0;
    for (const auto& st : db_.Statements()) {
      if (st.sql.find("INSERT INTO \"public\".\"schema_upgrade_log\"") == std::string::npos) continue;
      if (st.params.size() > 4 && st.params[4] == direction) ++n;
    }
    return n;
  }

  FakeClock clock_;
  std::unique_ptr<StatusStore> store_ = NewMemoryStatusStore();
  FakeDatabaseServer db_;
  FakeEngineWorld world_;
  FakeWorkloadRuntime rt_;
  FakeFileSystem fs_;
  FakeBackupTool backup_{&fs_};
  FakeWatchState watch_;
  bool use_watch_ = false;
  std::function<bool()> cancelled_;
  std::deque<Status> verify_results_;
  int verify_calls_ = 0;
  std::vector<std::string> verified_images_;
  std::vector<std::string> engine_images_;
  std::vector<std::string> engine_dsns_;
  std::vector<std::string> journal_;
  std::vector<std::string> events_;
  SchemaUpgrade su_;
};

}  // namespace su::testing
