// SPDX-License-Identifier: Apache-2.0
#pragma once
// The file of a persistent shared object: its version and its slots, in a small binary format of
// our own (the kernel knows no protocol encoding such as AMF).
//
//   "WEIRSO1\n"  u64 version  u32 slot count  { str name, value }*
//   value: u8 tag, then  0 undefined | 1 null | 2 bool: u8 | 3 number: f64 | 4 string: str
//                        5 date: f64 | 6 array: u32 n, value* | 7 object: str class, u32 n, {str, value}*
//   str: u32 length, bytes.  Integers big-endian; f64 as its IEEE-754 bits, big-endian.
//
// Decoding checks every length against the bytes left and limits nesting, so a broken file is an
// error naming the offset, never a crash or a huge allocation.

#include <cstdint>
#include <span>
#include <string>

#include "weir/shared_objects.h"
#include "weir/status.h"
#include "weir/value.h"

namespace weir::kernel {

/// How deep arrays and objects may nest in a stored value.
inline constexpr int kMaxStoredDepth = 64;

/// Bytes `value` takes in the file format: also how slots are counted against max_object_bytes.
std::uint64_t stored_size(const Value& value) noexcept;

/// How deep arrays and objects nest in `value` (a scalar: 0), counting no further than `limit` + 1:
/// a value deeper than kMaxStoredDepth could be written but not read back, so it is refused.
int nesting_depth(const Value& value, int limit = kMaxStoredDepth) noexcept;

/// The whole file for `snapshot` (slots: a Value::object).
std::string encode_object_file(const SharedObjectSnapshot& snapshot);

/// Reads a file made by encode_object_file(); Errc::malformed naming the offset otherwise.
Result<SharedObjectSnapshot> decode_object_file(std::span<const std::uint8_t> bytes) noexcept;

/// A name as a file name: [A-Za-z0-9_-] kept, every other byte as %XX (so no '/', no "..").
std::string escape_file_name(std::string_view name);
/// The reverse; Errc::malformed for a name escape_file_name() cannot have made.
Result<std::string> unescape_file_name(std::string_view file_name) noexcept;

}  // namespace weir::kernel
