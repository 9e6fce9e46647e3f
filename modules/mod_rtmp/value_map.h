// SPDX-License-Identifier: Apache-2.0
#pragma once
// AMF values (formats/amf) <-> weir::Value (the module API's dynamic value): what crosses from an
// RTMP client into shared objects (and, later, scripts) and back.
//
//   AMF                                   weir::Value
//   undefined, null, boolean, date        the same
//   number, integer                       number
//   string, XML, XML document             string
//   object, typed object                  object (class name kept)
//   ECMA array                            object
//   array: dense only                     array
//   array with associative pairs          object: "0", "1", ... then the pairs
//   ByteArray                             string (the bytes)
// Back to AMF: an array as a strict array, an object as an object (typed when it has a class).

#include "formats/amf/value.h"
#include "weir/value.h"

namespace weir::rtmp {

Value to_value(const formats::amf::Value& amf);
formats::amf::Value to_amf(const Value& value);

}  // namespace weir::rtmp
