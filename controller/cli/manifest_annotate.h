// SetAnnotation: writes metadata.annotations[key] = value into one document of a manifest file's
// text, touching no other byte (comments and layout stay). Used by `schema-upgrade approve`.
// Block-style metadata/annotations are edited line by line. A flow-style mapping (`metadata: {name:
// x}` or `annotations: {a: b}`, on one line or several) is read with yaml-cpp, changed and written
// back in flow style in its place: the rest of the file is untouched, comments inside that mapping
// are lost, every scalar keeps its quoted or plain form. Anything else inline (an alias, a
// mapping that does not close) is an error asking for a hand edit.
#pragma once

#include <string>

#include "reconcilers/base/result.h"

namespace su {

// name: metadata.name of the document to change (the file may hold several, split by ---).
Result<std::string> SetAnnotation(const std::string& text, const std::string& name, const std::string& key,
                                  const std::string& value);

}  // namespace su
