// Progress reporting for long work on a terminal: a live line on a TTY, one line per finished
// migration otherwise (CI logs). Writes to stderr so stdout stays machine-readable.
#pragma once

#include <functional>
#include <string>

#include "reconcilers/engines/engine.h"

namespace su {

std::function<void(const Progress&)> TerminalProgress();

// A backfill's progress as one line: "[#####...] 25% 250.0k/~1.0M rows  8000 rows/s  batch 2000  ETA 1m34s".
std::string BackfillLine(const Progress& p);

}  // namespace su
