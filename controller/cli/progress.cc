// Terminal progress (see progress.h).
#include "controller/cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "reconcilers/base/secrets.h"

namespace su {

namespace {

std::string Count(long long n) {
  char buf[32];
  if (n >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  } else if (n >= 10'000) {
    std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%lld", n);
  }
  return buf;
}

}  // namespace

std::string BackfillLine(const Progress& p) {
  std::string out;
  if (p.rows_total > 0) {
    int pct = static_cast<int>(std::min<long long>(100, p.rows_done * 100 / p.rows_total));
    const int width = 20;
    int filled = pct * width / 100;
    out = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " + std::to_string(pct) + "% ";
  }
  out += Count(p.rows_done) + "/" + (p.rows_total > 0 ? "~" + Count(p.rows_total) : std::string("?")) + " rows";
  char tail[96];
  std::snprintf(tail, sizeof tail, "  %.0f rows/s  batch %lld", p.rows_per_second, p.batch_size);
  out += tail;
  if (p.eta_seconds > 0) {
    long long e = p.eta_seconds;
    char eta[48];
    if (e >= 3600) {
      std::snprintf(eta, sizeof eta, "  ETA %lldh%02lldm", e / 3600, e % 3600 / 60);
    } else {
      std::snprintf(eta, sizeof eta, "  ETA %lldm%02llds", e / 60, e % 60);
    }
    out += eta;
  }
  if (!p.message.empty()) out += "  (" + Scrub(p.message) + ")";
  return out;
}

std::function<void(const Progress&)> TerminalProgress() {
  bool tty = isatty(2);
  auto last_decile = std::make_shared<int>(-1);  // backfill lines off a terminal: one per 10%
  return [tty, last_decile](const Progress& p) {
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
      case Progress::Event::kBackfill: {
        // A bar on a terminal (rewritten in place); elsewhere one line per ~10% so logs stay short.
        std::string line = BackfillLine(p);
        if (tty) {
          std::fprintf(stderr, "\r\033[K%s %s %s  %s", head, p.version.c_str(), p.name.c_str(), line.c_str());
        } else if (int decile = p.rows_total > 0 ? static_cast<int>(p.rows_done * 10 / p.rows_total) : 0;
                   decile != *last_decile || !p.message.empty()) {
          *last_decile = decile;
          std::fprintf(stderr, "%s %s %s  %s\n", head, p.version.c_str(), p.name.c_str(), line.c_str());
        }
        break;
      }
      case Progress::Event::kRetry:
        std::fprintf(stderr, "%s%s %s retrying: %s\n", tty ? "\r\033[K" : "", head, p.version.c_str(),
                     Scrub(p.message).c_str());
        break;
    }
    std::fflush(stderr);
  };
}

}  // namespace su
