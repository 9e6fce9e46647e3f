// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Limits: the bounds every AMF reader and writer keeps, whatever the input says.

#include <cstddef>
#include <cstdint>

namespace weir::formats::amf {

/// Bounds on what one reader may build and one writer may walk. The defaults suit RTMP commands,
/// onMetaData and remote shared objects; a caller with other needs passes its own.
struct Limits {
  /// Most containers (object, ECMA array, array) nested one in another; deeper input, or a
  /// deeper Value given to a writer, is Errc::limit. It also bounds recursion, so a hostile
  /// message cannot exhaust the stack.
  std::uint32_t max_depth = 64;
  /// Most memory a reader may build over its life (until reset_references()), counted as
  /// sizeof(Value) per value, sizeof(Property) plus the name per property, and the bytes of
  /// strings, XML and ByteArrays. References (AMF0 0x07, AMF3 string, trait and object
  /// references) count each time they are expanded, so a few bytes of nested references cannot
  /// expand to gigabytes; past the limit a read fails with Errc::limit. Writers ignore it.
  std::size_t max_output_bytes = std::size_t{64} << 20;
};

}  // namespace weir::formats::amf
