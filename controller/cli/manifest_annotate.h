// SetAnnotation: writes metadata.annotations[key] = value into one document of a manifest file's
// text, touching no other byte (comments and layout stay). Used by `schema-upgrade approve`.
// Handles block-style metadata/annotations; flow style (`annotations: {}`) is an error asking for a
// hand edit.
#pragma once

#include <string>

#include "reconcilers/base/result.h"

namespace su {

// name: metadata.name of the document to change (the file may hold several, split by ---).
Result<std::string> SetAnnotation(const std::string& text, const std::string& name, const std::string& key,
                                  const std::string& value);

}  // namespace su
