// compose_edit: reads and rewrites one service's `image:` value in a docker-compose.yml *text*,
// changing only the bytes of that value. Comments, order, indentation, quoting style ('x', "x",
// bare), line endings and every other byte stay as they were. Pure string work, no I/O.
//
// A small line scanner finds `services:` (block style, indent 0), the service key (quoted or
// not) and its `image:` line at the service's own property indent; deeper lines (environment,
// block scalars, nested `build: {image: ...}`) are skipped. yaml-cpp is used only to *validate*:
// after an edit the text is re-parsed and services.<service>.image must equal the new image (and
// GetServiceImage cross-checks the scanner against the parser), because rewriting through yaml-cpp
// would lose comments and layout.
//
// Errors (kInvalidArgument / kNotFound) name the service and the line; callers add the file name
// with Status::WithContext.
#pragma once

#include <string>

#include "reconcilers/base/result.h"

namespace su {

// The service's image as written (quotes removed, escapes resolved).
// kNotFound: no `services:` block, no such service, or the service has no `image:` line.
// kInvalidArgument: the image is not a plain/quoted scalar on one line (alias, anchor, tag, block
// or flow value), or the file does not parse.
Result<std::string> GetServiceImage(const std::string& text, const std::string& service);

// Returns text with only the service's image value replaced by new_image, in the same quoting
// style. new_image must be an image reference ([A-Za-z0-9._/:@+-]+), so no quoting or escaping is
// ever needed. Errors as GetServiceImage, plus kInvalidArgument when the result fails validation.
Result<std::string> SetServiceImage(const std::string& text, const std::string& service,
                                    const std::string& new_image);

// As SetServiceImage, for a value that may use compose interpolation (`${VAR:-default}`, `$$`):
// value holds image-reference characters plus `$ { } ? :`. The re-parsed file must hold exactly
// value. For the bump of an interpolated line (compose_interp.h computes value).
Result<std::string> SetServiceImageValue(const std::string& text, const std::string& service,
                                         const std::string& value);

// True when s is a syntactically acceptable image reference for SetServiceImage.
bool IsValidImageReference(const std::string& s);

}  // namespace su
