// Engine selection (see factory.h).
#include "reconcilers/engines/factory.h"

#include "reconcilers/engines/drizzle/drizzle_engine.h"
#include "reconcilers/engines/ory/ory_engine.h"
#include "reconcilers/engines/sql/sql_engine.h"

namespace su {

Result<std::unique_ptr<Engine>> MakeEngine(const SchemaUpgrade& su, const std::string& dsn,
                                           const std::string& target_image, FileSystem* fs, ContainerRuntime* rt) {
  const auto& m = su.migrations;
  std::string where = su.source_file.empty() ? su.Key() : su.source_file;
  if (m.engine == "sql" || m.engine == "drizzle") {
    if (m.path.empty()) return Status::Invalid(where + ": spec.migrations.path is required for engine " + m.engine);
    if (!fs->IsDir(m.path)) {
      return Status::Invalid(where + ": spec.migrations.path " + m.path + " is not a folder");
    }
    if (m.engine == "sql") {
      return NewSqlEngine(fs, m.path, m.schema.empty() ? "public" : m.schema, su.policy.accept_drift);
    }
    DrizzleEngineOptions o;
    if (!m.schema.empty()) o.migrations_schema = m.schema;  // drizzle config's migrations.schema
    return NewDrizzleEngine(fs, m.path, o);
  }
  if (m.engine == "ory") {
    if (!rt) return Status::Invalid(where + ": engine ory needs a container runtime (podman), none is configured");
    if (target_image.empty()) {
      return Status::Invalid(where + ": engine ory runs migrations with the target image, but there is none: set "
                                     "spec.image or spec.workload");
    }
    OryEngineOptions o;
    o.image = target_image;
    o.up_command = m.command;
    o.status_command = m.status_command;
    o.dsn = dsn;
    return NewOryEngine(rt, std::move(o));
  }
  return Status::Invalid(where + ": spec.migrations.engine \"" + m.engine + "\" is not one of ory, drizzle, sql");
}

}  // namespace su
