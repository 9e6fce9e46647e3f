// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// AMF0 (Adobe's AMF 0 specification, 2007): the encoding of RTMP commands (connect, _result,
/// onStatus), onMetaData and shared-object messages. Amf0Reader decodes values from a byte span,
/// Amf0Writer appends them to a byte vector.
///
/// References (0x07) name a complex value read earlier in the same reader (objects, typed
/// objects, ECMA arrays and strict arrays, numbered from 0 in order of their markers); the reader
/// re-reads the referenced bytes, bounded by Limits. An AVM+ switch (0x11) is followed by one AMF3
/// value; its AMF3 reference tables last as long as the reader.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "formats/amf/amf3.h"
#include "formats/amf/limits.h"
#include "formats/amf/value.h"
#include "weir/status.h"

namespace weir::formats::amf {

/// Decodes AMF0 values one after another from a byte span it borrows (the span must outlive the
/// reader; the Values it returns own their data). One reader per message: a command's name,
/// transaction id and arguments are read() in turn, or all at once with read_all().
/// Thread: any, one at a time.
///
/// What comes back: 0x02 and 0x0C are both Type::string; 0x0A is an array with only a dense
/// part; 0x0D ("unsupported") is undefined; a value behind 0x11 is the AMF3 value with
/// is_avmplus() set. Errors: Errc::malformed (truncated or broken input, a bad reference index,
/// a misplaced object end), Errc::unsupported (movieclip 0x04, recordset 0x0E, reference
/// cycles, AMF3 features Amf3Reader rejects), Errc::limit (Limits); the message names the marker
/// and the byte offset. After an error, stop using the reader.
class Amf0Reader {
 public:
  /// A reader at offset 0 of `input`.
  explicit Amf0Reader(std::span<const std::uint8_t> input, Limits limits = {}) noexcept;

  /// Decodes the value at offset() and moves past it.
  Result<Value> read() noexcept;
  /// Decodes values until the input ends (a whole command message).
  Result<std::vector<Value>> read_all() noexcept;

  /// Bytes consumed so far.
  std::size_t offset() const noexcept { return cursor_.pos; }
  /// Bytes left.
  std::size_t remaining() const noexcept { return cursor_.input.size() - cursor_.pos; }
  /// Whether all input has been read.
  bool at_end() const noexcept { return remaining() == 0; }
  /// Empties the AMF0 and AMF3 reference tables and the Limits::max_output_bytes count (a new
  /// message starting at offset()).
  void reset_references() noexcept;

 private:
  detail::ReadCursor cursor_;
  std::vector<detail::ReferenceEntry> references_;
  detail::Amf3ReadTables amf3_;
};

/// Encodes AMF0 values, appending to a byte vector it borrows (the vector must outlive the
/// writer). It never writes references. Thread: any, one at a time.
///
/// A Value written as AMF0: strings past 65535 bytes go as long strings (0x0C); a typed object
/// (class name set) as 0x10; an array with only a dense part as a strict array (0x0A), one with
/// an associative part as an ECMA array keyed "0", "1", ... then its pairs; an integer as a
/// number; XML as an XML document; a ByteArray, and any value with is_avmplus(), behind the AVM+
/// switch (0x11) as AMF3 without references.
/// Errors: Errc::limit (nesting past Limits::max_depth, a property or class name past 65535
/// bytes, a string or array past 2^32 - 1), Errc::unsupported (an empty property name, which
/// would read as the object end). On error the output is as it was before the call.
class Amf0Writer {
 public:
  /// A writer appending to `out`.
  explicit Amf0Writer(std::vector<std::uint8_t>& out, Limits limits = {}) noexcept;

  /// Appends one value.
  Status write(const Value& value) noexcept;
  /// Appends values in order; stops at the first error (values before it stay written).
  Status write_all(std::span<const Value> values) noexcept;

  /// Appends a number (0x00): a command's transaction id, without building a Value.
  void write_number(double number);
  /// Appends a boolean (0x01).
  void write_boolean(bool b);
  /// Appends a string (0x02, or 0x0C past 65535 bytes): a command name.
  Status write_string(std::string_view text);
  /// Appends null (0x05): the command object of most replies.
  void write_null();
  /// Appends undefined (0x06).
  void write_undefined();

 private:
  std::vector<std::uint8_t>& out_;
  Limits limits_;
};

}  // namespace weir::formats::amf
