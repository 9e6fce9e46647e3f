// SPDX-License-Identifier: Apache-2.0
#pragma once
// AMF values <-> weir::Value, for the apps service (weir/services/apps.h): the arguments of connect and of
// a client's calls go to the application as weir::Value, results come back as AMF.
//
//   AMF                           weir::Value
//   undefined, null, boolean      the same
//   number, integer               number
//   string, XML, XML document     string
//   date                          date (AMF0's time-zone field is dropped: writers put 0)
//   object (typed or not)         object (class name kept)
//   ECMA array                    object
//   array: dense part only        array;  with associative pairs: object (indices as names)
//   ByteArray                     string of its bytes
//
// and back: array -> strict array, object -> object (typed when it has a class name).

#include <string_view>

#include "formats/amf/value.h"
#include "weir/query.h"  // parse_query, for the query arguments of names and tcUrl
#include "weir/value.h"

namespace weir::rtmp {

Value to_app_value(const formats::amf::Value& amf);
formats::amf::Value to_amf(const Value& value);
/// "cam1?token=x" -> "token=x"; "" when there is no '?'.
std::string_view query_of(std::string_view name_with_query) noexcept;

}  // namespace weir::rtmp
