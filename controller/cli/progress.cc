// Terminal progress (see progress.h).
#include "controller/cli/progress.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "reconcilers/base/secrets.h"

namespace su {

std::function<void(const Progress&)> TerminalProgress() {
  bool tty = isatty(2);
  return [tty](const Progress& p) {
    char head[32];
    std::snprintf(head, sizeof head, "[%*d/%d]", static_cast<int>(std::to_string(p.migrations_total).size()),
                  p.migration_index, p.migrations_total);
    switch (p.event) {
      case Progress::Event::kMigrationStart:
        if (tty) std::fprintf(stderr, "\r\033[K%s %s %s ...", head, p.version.c_str(), p.name.c_str());
        break;
      case Progress::Event::kStatement:
        if (tty) {
          std::fprintf(stderr, "\r\033[K%s %s %s  statement %d/%d", head, p.version.c_str(), p.name.c_str(),
                       p.statement_index, p.statements_total);
        }
        break;
      case Progress::Event::kMigrationDone:
        std::fprintf(stderr, "%s%s %s %s  ok (%lld ms)\n", tty ? "\r\033[K" : "", head, p.version.c_str(),
                     p.name.c_str(), p.elapsed_ms);
        break;
      case Progress::Event::kRetry:
        std::fprintf(stderr, "%s%s %s retrying: %s\n", tty ? "\r\033[K" : "", head, p.version.c_str(),
                     Scrub(p.message).c_str());
        break;
    }
    std::fflush(stderr);
  };
}

}  // namespace su
