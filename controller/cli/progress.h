// Progress reporting for long work on a terminal: a live line on a TTY, one line per finished
// migration otherwise (CI logs). Writes to stderr so stdout stays machine-readable.
#pragma once

#include <functional>

#include "reconcilers/engines/engine.h"

namespace su {

std::function<void(const Progress&)> TerminalProgress();

}  // namespace su
