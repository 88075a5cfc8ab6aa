// Loading manifests from files and folders, and resolving a resource's DSN (see manifest.h).
#include <map>
#include <utility>

#include "reconcilers/base/secrets.h"
#include "reconcilers/manifest/manifest.h"

namespace su {
namespace {

bool IsManifestName(const std::string& name) {
  auto ends_with = [&](const std::string& suf) {
    return name.size() > suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  return !name.empty() && name[0] != '.' && (ends_with(".yaml") || ends_with(".yml"));
}

std::string Where(const SchemaUpgrade& su) { return SourceOf(su); }

}  // namespace

std::string SourceOf(const SchemaUpgrade& su) {
  return su.source_line > 0 ? su.source_file + ":" + std::to_string(su.source_line) : su.source_file;
}

Result<std::vector<SchemaUpgrade>> LoadManifestFile(FileSystem* fs, const std::string& path) {
  SU_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  return ParseManifests(text, path, DirName(path));
}

Result<std::vector<SchemaUpgrade>> LoadManifestDir(FileSystem* fs, const std::string& dir) {
  SU_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  std::vector<SchemaUpgrade> out;
  std::string errors;  // every file's errors, so one run shows everything to fix
  std::map<std::string, std::string> where;  // key -> "file:line" of its first definition
  for (const auto& name : names) {
    if (!IsManifestName(name)) continue;
    const std::string path = JoinPath(dir, name);
    if (fs->IsDir(path)) continue;
    auto loaded = LoadManifestFile(fs, path);
    if (!loaded.ok()) {
      errors += (errors.empty() ? "" : "\n") + loaded.status().message();
      continue;
    }
    for (auto& su : *loaded) {
      auto [it, fresh] = where.emplace(su.Key(), Where(su));
      if (!fresh) {
        errors += (errors.empty() ? "" : "\n") + Where(su) + ": metadata.name: " + su.Key() +
                  " is also defined at " + it->second + "; expected each namespace/name once per folder";
        continue;
      }
      out.push_back(std::move(su));
    }
  }
  if (!errors.empty()) return Status::Invalid(errors);
  return out;
}

Result<std::string> ResolveDsn(const SchemaUpgrade& su, FileSystem* fs,
                               const std::function<const char*(const char*)>& getenv_fn) {
  const DsnSource& src = su.dsn;
  switch (src.kind) {
    case DsnSource::Kind::kEnv: {
      const std::string field = Where(su) + ": spec.database.dsnFrom.env: ";
      if (src.env.empty()) return Status::Invalid(field + "no variable name; expected e.g. env: KRATOS_DSN");
      const char* v = getenv_fn ? getenv_fn(src.env.c_str()) : nullptr;
      if (v == nullptr || *v == '\0') {
        return Status::Invalid(field + "environment variable " + src.env +
                               " is not set or empty; expected it to hold the PostgreSQL DSN");
      }
      std::string dsn = v;
      RegisterDsnSecrets(dsn);
      return dsn;
    }
    case DsnSource::Kind::kFile: {
      const std::string field = Where(su) + ": spec.database.dsnFrom.file: ";
      auto text = fs->ReadFile(src.file);
      if (!text.ok()) return text.status().WithContext(Where(su) + ": spec.database.dsnFrom.file");
      std::string dsn = std::move(*text);
      // Register before any check, so even a malformed file's content can never be printed.
      RegisterDsnSecrets(dsn);
      while (!dsn.empty() && (dsn.back() == '\n' || dsn.back() == '\r' || dsn.back() == ' ' || dsn.back() == '\t')) {
        dsn.pop_back();
      }
      if (dsn.empty()) {
        return Status::Invalid(field + src.file + " is empty; expected the PostgreSQL DSN");
      }
      if (dsn.find('\n') != std::string::npos) {
        return Status::Invalid(field + src.file + " has more than one line (content not shown); "
                               "expected only the PostgreSQL DSN");
      }
      RegisterDsnSecrets(dsn);
      return dsn;
    }
    case DsnSource::Kind::kSecretKeyRef:
      return Status::Invalid(Where(su) + ": spec.database.dsnFrom.secretKeyRef: Secret " + src.secret_name +
                             " key " + src.secret_key +
                             " is only available in Kubernetes mode; expected dsnFrom.env or "
                             "dsnFrom.file when running from a manifests folder");
  }
  return Status::Invalid(Where(su) + ": spec.database.dsnFrom: unknown source");
}

}  // namespace su
