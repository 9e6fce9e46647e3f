// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// AMF3 (Adobe's AMF 3 specification, 2013): Amf3Reader decodes values from a byte span,
/// Amf3Writer appends them to a byte vector. Both keep the three reference tables of the format:
///
///   strings  every non-empty string, object class name and member name, in order of appearance
///   objects  every object, array, date, XML, XML document and ByteArray, in order of appearance
///   traits   every inline traits definition (class name, sealed member names, dynamic flag)
///
/// The reader resolves references by re-reading the referenced bytes (nothing is copied unless a
/// reference is used), bounded by Limits. The writer refers back to strings and traits it has
/// written; it never writes object references (a Value is a tree, with no identity to share).
/// Vectors (0x0D-0x10), Dictionary (0x11) and externalizable objects are Errc::unsupported.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/amf/limits.h"
#include "formats/amf/value.h"
#include "weir/status.h"

namespace weir::formats::amf {

namespace detail {

/// Where a reader stands in its input. An Amf0Reader shares its cursor with the AMF3 values
/// behind its AVM+ switches.
struct ReadCursor {
  std::span<const std::uint8_t> input;
  std::size_t pos = 0;
  Limits limits;
  std::size_t output_bytes = 0;  ///< built so far, against limits.max_output_bytes
  std::uint32_t replaying = 0;   ///< > 0 while a reference is re-read: the tables stay as they are
};

/// A complex value in a reference table: the offset of its marker, and whether it has been read
/// to its end (a reference to one still being read would be a cycle).
struct ReferenceEntry {
  std::size_t offset = 0;
  bool is_complete = false;
};

/// One AMF3 traits definition; the views point into the reader's input.
struct Amf3Traits {
  std::string_view class_name;
  std::vector<std::string_view> members;
  bool is_dynamic = false;
};

/// A reader's AMF3 reference tables; the string views point into its input.
struct Amf3ReadTables {
  std::vector<std::string_view> strings;
  std::vector<ReferenceEntry> objects;
  std::vector<Amf3Traits> traits;
};

/// Hash for heterogeneous lookup of std::string keys by std::string_view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

/// A writer's AMF3 reference tables: what it has written, mapped to its index, and how many
/// entries the reader's tables hold (each inline definition adds one there).
struct Amf3WriteTables {
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> strings;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> traits;
  std::uint32_t string_count = 0;
  std::uint32_t traits_count = 0;
};

/// Reads one AMF3 value at the cursor; `depth` is the number of enclosing containers.
Result<Value> read_amf3_value(ReadCursor& cursor, Amf3ReadTables& tables,
                              std::uint32_t depth) noexcept;

/// Appends one AMF3 value; with `tables` null it writes no references at all (what goes behind
/// an AMF0 AVM+ switch, so that any reader's view of the tables decodes it).
Status write_amf3_value(std::vector<std::uint8_t>& out, const Value& value,
                        Amf3WriteTables* tables, std::uint32_t depth, const Limits& limits) noexcept;

}  // namespace detail

/// Decodes AMF3 values one after another from a byte span it borrows (the span must outlive the
/// reader; the Values it returns own their data). The reference tables live as long as the
/// reader, across read() calls: use one reader per message. Thread: any, one at a time.
///
/// Errors: Errc::malformed (truncated or broken input, bad reference index), Errc::unsupported
/// (vectors, dictionaries, externalizable objects, reference cycles), Errc::limit (Limits); the
/// message names the type and the byte offset. After an error, stop using the reader.
class Amf3Reader {
 public:
  /// A reader at offset 0 of `input`.
  explicit Amf3Reader(std::span<const std::uint8_t> input, Limits limits = {}) noexcept;

  /// Decodes the value at offset() and moves past it.
  Result<Value> read() noexcept;
  /// Decodes values until the input ends.
  Result<std::vector<Value>> read_all() noexcept;

  /// Bytes consumed so far.
  std::size_t offset() const noexcept { return cursor_.pos; }
  /// Bytes left.
  std::size_t remaining() const noexcept { return cursor_.input.size() - cursor_.pos; }
  /// Whether all input has been read.
  bool at_end() const noexcept { return remaining() == 0; }
  /// Empties the reference tables and the Limits::max_output_bytes count (a new message
  /// starting at offset()).
  void reset_references() noexcept;

 private:
  detail::ReadCursor cursor_;
  detail::Amf3ReadTables tables_;
};

/// Encodes AMF3 values, appending to a byte vector it borrows (the vector must outlive the
/// writer). Repeated strings and traits become references; the tables live as long as the
/// writer: use one writer per message. Thread: any, one at a time.
///
/// A Value written as AMF3: integers outside [-2^28, 2^28 - 1] go as doubles; an ECMA array goes
/// as an array with only an associative part; a date loses its time zone; an object's properties
/// past sealed_count are dynamic (the traits say dynamic if there are any).
/// Errors: Errc::limit (nesting past Limits::max_depth, a string or array past 2^28 - 1),
/// Errc::unsupported (an empty dynamic property name, which would end the list). On error the
/// output and the tables are as they were before the call.
class Amf3Writer {
 public:
  /// A writer appending to `out`.
  explicit Amf3Writer(std::vector<std::uint8_t>& out, Limits limits = {}) noexcept;

  /// Appends one value.
  Status write(const Value& value) noexcept;
  /// Appends values in order; stops at the first error (values before it stay written).
  Status write_all(std::span<const Value> values) noexcept;
  /// Forgets the strings and traits written so far (a new message).
  void reset_references() noexcept;

 private:
  std::vector<std::uint8_t>& out_;
  Limits limits_;
  detail::Amf3WriteTables tables_;
};

}  // namespace weir::formats::amf
