// PackSpec / UnpackSpec: a SchemaUpgrade as one compact byte string, for holding many resources in
// memory (the folder source keeps every manifest's parsed spec between passes: 10,000 of them as
// SchemaUpgrade structs cost ~17 MB, packed ~4 MB; issue 10's memory goal).
//
// Contract:
//  - UnpackSpec(PackSpec(su)) equals su in every field (tests/unit/api/spec_pack_test.cc sets each
//    field to a non-default value and compares).
//  - The format is private to one process (never written to disk or sent anywhere): fields in a
//    fixed order, strings as a varint length and the bytes, numbers as varints.
//  - Unpacking costs about as much as copying the struct (no parsing, no validation): the packed
//    form was made from a spec that already passed validation.
//  - Adding a field to SchemaUpgrade (or a struct inside it) breaks the build in spec_pack.cc until
//    the field is added to the one field list there (a size check), so no field is dropped silently.
#pragma once

#include <string>
#include <string_view>

#include "api/spec.h"

namespace su {

std::string PackSpec(const SchemaUpgrade& su);
SchemaUpgrade UnpackSpec(std::string_view packed);

}  // namespace su
