// compose_interp: compose variable interpolation in one `image:` value, and how to bump such a
// value without losing the operator's variable. Pure string work, no I/O.
//
// Syntax (the compose spec, as podman-compose 1.0.3 reads it): `$$` is a literal `$`; `$VAR` and
// `${VAR}` are the variable's value (empty when unset); `${VAR:-default}` is the default when VAR is
// unset or empty, `${VAR-default}` when it is unset; `${VAR:?msg}` / `${VAR?msg}` are errors when
// unset. Defaults are literal text (no nested `${...}`).
//
// A bump rewrites only the bytes of the value that produce the part of the image that changes
// (usually the tag): inside a literal run (`${REGISTRY:-localhost}/athena:v1.0.0` ->
// `${REGISTRY:-localhost}/athena:v1.1.0`) or inside a default that is in use
// (`${ATHENA_IMAGE:-registry/athena:v1.0.0}` -> `${ATHENA_IMAGE:-registry/athena:v1.1.0}`), so the
// variable stays and a CI override still wins. When the change would fall on a value that comes
// from a variable that is set, the bump is refused (kInvalidArgument naming the variable): editing
// the compose file would not change what runs, and overwriting the variable is the operator's call.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "reconcilers/base/result.h"

namespace su {

// The value of a variable as compose would see it; nullopt when unset.
using ComposeLookup = std::function<std::optional<std::string>(const std::string& name)>;

// True when the value uses interpolation (contains '$').
bool HasInterpolation(const std::string& raw);

// The value with every variable replaced. kInvalidArgument for malformed syntax or a `?` variable
// that is unset (the message names it).
Result<std::string> InterpolateCompose(const std::string& raw, const ComposeLookup& lookup);

struct InterpolatedEdit {
  std::string written;   // the new raw value (same variables)
  std::string where;     // which part was edited: "the literal text" or "the default of ${VAR}"
};

// The raw value that interpolates to target, keeping every variable (see the header comment).
// Errors (kInvalidArgument) say which variable holds the part that would change and what to do.
Result<InterpolatedEdit> EditInterpolated(const std::string& raw, const std::string& target,
                                          const ComposeLookup& lookup);

// Variables of a `.env` file (KEY=VALUE lines, optional `export `, '#' comments, optional single or
// double quotes around the value), as python-dotenv reads the simple cases.
std::optional<std::string> DotEnvValue(const std::string& dotenv_text, const std::string& name);

}  // namespace su
