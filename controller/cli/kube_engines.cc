// Kubernetes engine factory (see kube_engines.h).
#include "controller/cli/kube_engines.h"

#include <algorithm>
#include <memory>

#include "reconcilers/engines/factory/factory.h"
#include "reconcilers/runtimes/kubernetes/kube_folder_reader.h"
#include "reconcilers/runtimes/kubernetes/kube_job.h"

namespace su {
namespace {

// An engine that owns the container runtime it runs with (one Job runtime per resource).
class OwningEngine : public Engine {
 public:
  OwningEngine(std::unique_ptr<ContainerRuntime> rt, std::unique_ptr<Engine> inner)
      : rt_(std::move(rt)), inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  Result<EngineState> Observe(Database* db) override { return inner_->Observe(db); }
  RunReport Apply(Database* db, const RunContext& ctx) override { return inner_->Apply(db, ctx); }
  RunReport RollbackVersions(Database* db, const std::vector<std::string>& v, const RunContext& ctx) override {
    return inner_->RollbackVersions(db, v, ctx);
  }
  RunReport Rollback(Database* db, const std::string& to, const RunContext& ctx) override {
    return inner_->Rollback(db, to, ctx);
  }

 private:
  std::unique_ptr<ContainerRuntime> rt_;  // declared first: outlives inner_
  std::unique_ptr<Engine> inner_;
};

}  // namespace

EngineFactory KubeEngineFactory(KubeEngineSettings s) {
  KubeFolderReaderOptions ro;
  ro.api = s.api;
  ro.controller_image = s.controller_image;
  ro.job_ttl = s.job_ttl;
  ro.job_deadline = std::min(s.job_deadline, std::chrono::seconds(600));  // copying a folder is quick
  std::shared_ptr<MigrationFolderReader> reader = NewCachingFolderReader(NewKubeFolderReader(ro));
  return [s, reader](const SchemaUpgrade& su, const std::string& dsn, const std::string& image)
             -> Result<std::unique_ptr<Engine>> {
    if (su.migrations.engine != "ory") return MakeEngineForSource(su, dsn, image, s.fs, nullptr, reader.get());
    KubeJobOptions o;
    o.api = s.api;
    o.ns = su.namespace_;
    o.name = su.name;
    o.uid = su.uid;
    o.workload = su.workload;
    o.ttl_after_finished = s.job_ttl;
    o.default_deadline = s.job_deadline;
    auto rt = NewKubeJobRuntime(o);
    auto engine = MakeEngine(su, dsn, image, s.fs, rt.get());
    if (!engine.ok()) return engine.status();
    return std::unique_ptr<Engine>(std::make_unique<OwningEngine>(std::move(rt), std::move(engine).value()));
  };
}

}  // namespace su
