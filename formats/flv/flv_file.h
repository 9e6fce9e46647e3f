// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// FLV file framing: the file header, tag headers, a streaming reader and a writer.
///
///     +-------------+------+-----------------+-----------+------+-----------------+-----------+---
///     | file header | PTS0 | tag header (11) | tag body  | PTS1 | tag header (11) | tag body  | ...
///     | 9 bytes     | = 0  | type size ts id | data_size | 11 + | ...             |           |
///     +-------------+------+-----------------+-----------+------+-----------------+-----------+---
///
/// PTSn (PreviousTagSize, 4 bytes) repeats the size of the tag before it: 11 + its data_size.
/// Everything here is stateless or owner-only, does no I/O and never throws; bad input comes back
/// as Errc::malformed (or Errc::limit, Errc::unsupported) with the file offset in the message.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include "weir/status.h"

namespace weir::formats::flv {

/// Size of the FLV file header ("FLV", version, flags, header size).
inline constexpr std::size_t kFileHeaderSize = 9;
/// Size of a tag header (type, data size, timestamp, stream id).
inline constexpr std::size_t kTagHeaderSize = 11;
/// Size of a PreviousTagSize field.
inline constexpr std::size_t kPreviousTagSizeBytes = 4;
/// The largest tag body the 24-bit DataSize field can describe.
inline constexpr std::uint32_t kMaxTagDataSize = 0xFFFFFF;

/// FLV tag types. RTMP audio, video and AMF0 data messages use the same numbers and carry the same
/// bodies, so an RTMP message type converts with static_cast after checking it is one of these.
enum class TagType : std::uint8_t {
  audio = 8,
  video = 9,
  script = 18,  ///< script data: AMF0 (onMetaData and friends)
};

/// Lower-case tag type name for messages ("audio", "video", "script").
const char* tag_type_name(TagType type) noexcept;

/// The 9-byte FLV file header.
struct FileHeader {
  std::uint8_t version = 1;
  bool has_audio = true;
  bool has_video = true;
  /// DataOffset: bytes from the file start to PreviousTagSize0; 9 in version 1, larger means
  /// padding the reader skips.
  std::uint32_t header_size = kFileHeaderSize;
};

/// Parses the file header from the first 9 bytes of `bytes` (more are ignored).
/// Errors: Errc::malformed for fewer than 9 bytes, a signature other than "FLV", a header size
/// below 9, or reserved flag bits set.
Result<FileHeader> parse_file_header(std::span<const std::uint8_t> bytes) noexcept;

/// Writes the 9-byte file header (header_size is written as given; the writer uses 9).
void write_file_header(const FileHeader& header, std::span<std::uint8_t, kFileHeaderSize> out) noexcept;

/// The 11-byte header in front of each tag body.
struct TagHeader {
  TagType type = TagType::script;
  std::uint32_t data_size = 0;     ///< body bytes (24 bits)
  std::uint32_t timestamp_ms = 0;  ///< 24 bits plus the 8-bit TimestampExtended as the high byte
  std::uint32_t stream_id = 0;     ///< 24 bits; always 0 in files
};

/// Parses a tag header from the first 11 bytes of `bytes`. `file_offset` (where the header starts)
/// is only used in error messages.
/// Errors: Errc::malformed for fewer than 11 bytes or a type other than 8, 9 or 18;
/// Errc::unsupported for the Filter bit (an encrypted tag).
Result<TagHeader> parse_tag_header(std::span<const std::uint8_t> bytes,
                                   std::uint64_t file_offset = 0) noexcept;

/// Writes an 11-byte tag header. Errc::limit when data_size does not fit 24 bits or the stream id
/// does not fit 24 bits.
Status write_tag_header(const TagHeader& header, std::span<std::uint8_t, kTagHeaderSize> out) noexcept;

/// One complete tag as the reader yields it.
struct TagView {
  TagType type = TagType::script;
  std::uint32_t timestamp_ms = 0;
  std::uint32_t stream_id = 0;
  /// The tag body; borrowed from the reader, valid until its next feed() or next().
  std::span<const std::uint8_t> body;
  /// Offset of the tag header in the file (where a recorder would seek back to).
  std::uint64_t file_offset = 0;
};

/// Limits and checks of an FlvReader.
struct FlvReaderOptions {
  /// Tag bodies larger than this are an error (Errc::limit) as soon as the tag header is read, so a
  /// corrupt size never makes the reader wait for (or a caller buffer) megabytes of input.
  std::uint32_t max_tag_data_size = 8 * 1024 * 1024;
  /// Compare each PreviousTagSize with the size of the tag before it (Errc::malformed on mismatch).
  /// Some old muxers wrote wrong values; turn off to read their files.
  bool check_previous_tag_size = true;
  /// False when the input starts at a PreviousTagSize instead of a file header (resuming a file at a
  /// known tag boundary); the first PreviousTagSize is then not checked.
  bool expect_file_header = true;
};

/// Splits an FLV byte stream into tags, taking bytes as they arrive (from a file, a socket, an HTTP
/// body) in spans of any size.
///
/// Thread: owner only. Owns a buffer holding the bytes fed but not yet consumed: at most one partial
/// tag plus what the last feed() added, so memory is bounded by the caller's feeds and
/// max_tag_data_size. After an error every next() returns the same error.
///
///     FlvReader reader;
///     while (auto n = read(fd, chunk)) {
///       reader.feed(chunk.first(n));
///       while (true) {
///         auto tag = reader.next();
///         if (!tag) return tag.error();           // names the file offset
///         if (!*tag) break;                       // needs more bytes
///         handle((*tag)->type, (*tag)->timestamp_ms, (*tag)->body);
///       }
///     }
///     WEIR_TRY(reader.finish());                 // a truncated last tag is an error
class FlvReader {
 public:
  explicit FlvReader(FlvReaderOptions options = {}) noexcept;

  /// Appends bytes (copied). Invalidates the body of the last TagView returned.
  void feed(std::span<const std::uint8_t> bytes);

  /// The next complete tag; std::nullopt when more bytes are needed.
  /// Errors (Errc::malformed, Errc::limit, Errc::unsupported) name the file offset: a bad signature,
  /// a tag larger than max_tag_data_size, a PreviousTagSize mismatch, an unknown tag type.
  Result<std::optional<TagView>> next() noexcept;

  /// Call at end of input, after next() has said it needs more: ok when the input ended on a tag
  /// boundary (optionally followed by the last PreviousTagSize), Errc::malformed naming the offset
  /// of a truncated header or tag otherwise (Errc::internal if a complete tag was left unread).
  Status finish() const noexcept;

  /// The file header, once it has been read.
  const std::optional<FileHeader>& file_header() const noexcept { return file_header_; }
  /// File offset of the first byte not yet consumed.
  std::uint64_t offset() const noexcept { return offset_; }
  /// Bytes fed but not yet consumed.
  std::size_t buffered_bytes() const noexcept { return buffer_.size() - consumed_; }

 private:
  enum class Phase : std::uint8_t { file_header, skip_header, tags };

  Status fail(Status status) noexcept;

  FlvReaderOptions options_;
  Phase phase_;
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;        // bytes of buffer_ already parsed
  std::uint64_t offset_ = 0;        // file offset of buffer_[consumed_]
  std::uint64_t skip_left_ = 0;     // header padding still to skip
  std::uint64_t previous_tag_offset_ = 0;
  std::uint32_t previous_tag_size_ = 0;  // what the next PreviousTagSize must say
  bool check_next_previous_size_ = true;
  std::optional<FileHeader> file_header_;
  Status error_;
};

/// Appends an FLV file to a byte vector it owns: header, then tags with their PreviousTagSize.
/// Thread: owner only. Take or clear the bytes after writing them out; capacity is kept by clear().
///
///     FlvWriter writer;
///     writer.write_header({.has_audio = true, .has_video = true});
///     WEIR_TRY(writer.write_tag(TagType::video, dts_ms, {video_header.view(), nal_units}));
///     file.write(writer.bytes());
///     writer.clear();
class FlvWriter {
 public:
  /// Appends the 9-byte header (with header_size 9) and PreviousTagSize0.
  void write_header(const FileHeader& header);

  /// Appends one tag: header, body, PreviousTagSize. Errc::limit when the body is larger than
  /// kMaxTagDataSize (nothing is appended then).
  Status write_tag(TagType type, std::uint32_t timestamp_ms, std::span<const std::uint8_t> body);

  /// The same with the body given in pieces (a tag body header, then codec data), written back to
  /// back without joining them first.
  Status write_tag(TagType type, std::uint32_t timestamp_ms,
                   std::initializer_list<std::span<const std::uint8_t>> pieces);

  /// Same as above for a span of pieces.
  Status write_tag(TagType type, std::uint32_t timestamp_ms,
                   std::span<const std::span<const std::uint8_t>> pieces);

  /// The bytes written so far (since the last take() or clear()).
  const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
  /// Moves the bytes out, leaving the writer empty.
  std::vector<std::uint8_t> take() noexcept;
  /// Forgets the bytes, keeping the capacity.
  void clear() noexcept { bytes_.clear(); }

 private:
  std::vector<std::uint8_t> bytes_;
};

}  // namespace weir::formats::flv
