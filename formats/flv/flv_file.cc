// SPDX-License-Identifier: Apache-2.0
#include "formats/flv/flv_file.h"

#include <algorithm>
#include <utility>

#include "formats/flv/bit_reader.h"

namespace weir::formats::flv {

using detail::load_u24;
using detail::load_u32;
using detail::store_u24;
using detail::store_u32;

const char* tag_type_name(TagType type) noexcept {
  switch (type) {
    case TagType::audio: return "audio";
    case TagType::video: return "video";
    case TagType::script: return "script";
  }
  return "unknown";
}

Result<FileHeader> parse_file_header(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.size() < kFileHeaderSize)
    return error(Errc::malformed, "flv file header: {} bytes, need {}", bytes.size(), kFileHeaderSize);
  if (bytes[0] != 'F' || bytes[1] != 'L' || bytes[2] != 'V')
    return error(Errc::malformed, "flv file header: bad signature {} {} {} at offset 0 (expected \"FLV\")",
                 bytes[0], bytes[1], bytes[2]);
  FileHeader header;
  header.version = bytes[3];
  std::uint8_t flags = bytes[4];
  // TypeFlagsReserved (UB5, UB1) must be 0; a set bit means this is not an FLV header we understand.
  if ((flags & 0xFA) != 0)
    return error(Errc::malformed, "flv file header: reserved flag bits {} set at offset 4", flags & 0xFA);
  header.has_audio = (flags & 0x04) != 0;
  header.has_video = (flags & 0x01) != 0;
  header.header_size = load_u32(bytes.data() + 5);
  if (header.header_size < kFileHeaderSize)
    return error(Errc::malformed, "flv file header: header size {} at offset 5, at least {} expected",
                 header.header_size, kFileHeaderSize);
  return header;
}

void write_file_header(const FileHeader& header, std::span<std::uint8_t, kFileHeaderSize> out) noexcept {
  out[0] = 'F';
  out[1] = 'L';
  out[2] = 'V';
  out[3] = header.version;
  out[4] = static_cast<std::uint8_t>((header.has_audio ? 0x04 : 0) | (header.has_video ? 0x01 : 0));
  store_u32(out.data() + 5, header.header_size);
}

Result<TagHeader> parse_tag_header(std::span<const std::uint8_t> bytes, std::uint64_t file_offset) noexcept {
  if (bytes.size() < kTagHeaderSize)
    return error(Errc::malformed, "flv tag header at offset {}: {} bytes, need {}", file_offset,
                 bytes.size(), kTagHeaderSize);
  // Reserved UB[2], Filter UB[1], TagType UB[5]. Reserved bits are ignored (readers of the time did).
  std::uint8_t type = bytes[0] & 0x1F;
  if (bytes[0] & 0x20)
    return error(Errc::unsupported, "flv tag at offset {}: encrypted (Filter bit set)", file_offset);
  if (type != 8 && type != 9 && type != 18)
    return error(Errc::malformed, "flv tag at offset {}: unknown tag type {}", file_offset, type);
  TagHeader header;
  header.type = static_cast<TagType>(type);
  header.data_size = load_u24(bytes.data() + 1);
  header.timestamp_ms = load_u24(bytes.data() + 4) | std::uint32_t{bytes[7]} << 24;
  header.stream_id = load_u24(bytes.data() + 8);
  return header;
}

Status write_tag_header(const TagHeader& header, std::span<std::uint8_t, kTagHeaderSize> out) noexcept {
  if (header.data_size > kMaxTagDataSize)
    return error(Errc::limit, "flv tag of {} bytes, at most {} fit", header.data_size, kMaxTagDataSize);
  if (header.stream_id > 0xFFFFFF)
    return error(Errc::limit, "flv stream id {} does not fit 24 bits", header.stream_id);
  out[0] = static_cast<std::uint8_t>(header.type);
  store_u24(out.data() + 1, header.data_size);
  store_u24(out.data() + 4, header.timestamp_ms & 0xFFFFFF);
  out[7] = static_cast<std::uint8_t>(header.timestamp_ms >> 24);
  store_u24(out.data() + 8, header.stream_id);
  return ok();
}

// ---------------------------------------------------------------------------------------------
// FlvReader

FlvReader::FlvReader(FlvReaderOptions options) noexcept
    : options_(options),
      phase_(options.expect_file_header ? Phase::file_header : Phase::tags),
      check_next_previous_size_(options.expect_file_header) {}

void FlvReader::feed(std::span<const std::uint8_t> bytes) {
  if (!error_.is_ok() || bytes.empty()) return;
  // Drop what was parsed: what stays is at most one partial tag, so the move is short.
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Status FlvReader::fail(Status status) noexcept {
  error_ = std::move(status);
  return error_;
}

Result<std::optional<TagView>> FlvReader::next() noexcept {
  if (!error_.is_ok()) return error_;
  while (true) {
    std::span<const std::uint8_t> input(buffer_.data() + consumed_, buffer_.size() - consumed_);
    switch (phase_) {
      case Phase::file_header: {
        if (input.size() < kFileHeaderSize) {
          // Fail early on a bad signature rather than waiting for 9 bytes that never make it FLV.
          static constexpr std::uint8_t kSignature[] = {'F', 'L', 'V'};
          for (std::size_t i = 0; i < input.size() && i < 3; ++i)
            if (input[i] != kSignature[i])
              return fail(error(Errc::malformed, "flv: bad signature byte {} at offset {} (not an FLV file)",
                                input[i], offset_ + i));
          return std::optional<TagView>();
        }
        auto header = parse_file_header(input);
        if (!header) return fail(header.error());
        file_header_ = *header;
        consumed_ += kFileHeaderSize;
        offset_ += kFileHeaderSize;
        skip_left_ = header->header_size - kFileHeaderSize;
        phase_ = Phase::skip_header;
        break;
      }
      case Phase::skip_header: {
        std::size_t skip = static_cast<std::size_t>(std::min<std::uint64_t>(skip_left_, input.size()));
        consumed_ += skip;
        offset_ += skip;
        skip_left_ -= skip;
        if (skip_left_ > 0) return std::optional<TagView>();
        phase_ = Phase::tags;
        break;
      }
      case Phase::tags: {
        constexpr std::size_t kPrefix = kPreviousTagSizeBytes + kTagHeaderSize;
        if (input.size() < kPrefix) return std::optional<TagView>();
        std::uint32_t previous_size = load_u32(input.data());
        if (options_.check_previous_tag_size && check_next_previous_size_ &&
            previous_size != previous_tag_size_) {
          if (previous_tag_size_ == 0)
            return fail(error(Errc::malformed, "flv: PreviousTagSize0 at offset {} is {}, expected 0",
                              offset_, previous_size));
          return fail(error(Errc::malformed,
                            "flv: previous tag size {} at offset {}, but the tag at offset {} is {} bytes",
                            previous_size, offset_, previous_tag_offset_, previous_tag_size_));
        }
        std::uint64_t header_offset = offset_ + kPreviousTagSizeBytes;
        auto header = parse_tag_header(input.subspan(kPreviousTagSizeBytes), header_offset);
        if (!header) return fail(header.error());
        if (header->data_size > options_.max_tag_data_size)
          return fail(error(Errc::limit, "flv: {} tag at offset {} is {} bytes, the limit is {}",
                            tag_type_name(header->type), header_offset, header->data_size,
                            options_.max_tag_data_size));
        if (input.size() - kPrefix < header->data_size) return std::optional<TagView>();
        TagView tag;
        tag.type = header->type;
        tag.timestamp_ms = header->timestamp_ms;
        tag.stream_id = header->stream_id;
        tag.body = input.subspan(kPrefix, header->data_size);
        tag.file_offset = header_offset;
        std::size_t used = kPrefix + header->data_size;
        consumed_ += used;
        offset_ += used;
        previous_tag_size_ = static_cast<std::uint32_t>(kTagHeaderSize) + header->data_size;
        previous_tag_offset_ = header_offset;
        check_next_previous_size_ = true;
        return std::optional<TagView>(tag);
      }
    }
  }
}

Status FlvReader::finish() const noexcept {
  if (!error_.is_ok()) return error_;
  std::size_t left = buffered_bytes();
  switch (phase_) {
    case Phase::file_header:
      return error(Errc::malformed, "flv: input ended after {} bytes, inside the file header", left);
    case Phase::skip_header:
      return error(Errc::malformed, "flv: input ended at offset {}, inside the file header padding", offset_);
    case Phase::tags:
      break;
  }
  if (left == 0) return ok();  // some writers omit the last PreviousTagSize
  if (left < kPreviousTagSizeBytes + kTagHeaderSize) {
    if (left == kPreviousTagSizeBytes) {
      std::uint32_t previous_size = load_u32(buffer_.data() + consumed_);
      if (options_.check_previous_tag_size && check_next_previous_size_ && previous_size != previous_tag_size_)
        return error(Errc::malformed,
                     "flv: last previous tag size {} at offset {}, but the tag at offset {} is {} bytes", previous_size,
                     offset_, previous_tag_offset_, previous_tag_size_);
      return ok();
    }
    return error(Errc::malformed, "flv: input ended at offset {} inside a tag header ({} bytes left)",
                 offset_ + left, left);
  }
  auto header = parse_tag_header(std::span<const std::uint8_t>(buffer_).subspan(consumed_ + kPreviousTagSizeBytes),
                                 offset_ + kPreviousTagSizeBytes);
  if (!header) return header.error();
  if (left - kPreviousTagSizeBytes - kTagHeaderSize >= header->data_size)
    return error(Errc::internal, "flv: finish() with the tag at offset {} not read yet (call next() first)",
                 offset_ + kPreviousTagSizeBytes);
  return error(Errc::malformed, "flv: {} tag at offset {} truncated: {} of {} body bytes", tag_type_name(header->type),
               offset_ + kPreviousTagSizeBytes, left - kPreviousTagSizeBytes - kTagHeaderSize, header->data_size);
}

// ---------------------------------------------------------------------------------------------
// FlvWriter

void FlvWriter::write_header(const FileHeader& header) {
  FileHeader written = header;
  written.header_size = kFileHeaderSize;
  std::size_t at = bytes_.size();
  bytes_.resize(at + kFileHeaderSize + kPreviousTagSizeBytes);
  write_file_header(written, std::span<std::uint8_t, kFileHeaderSize>(bytes_.data() + at, kFileHeaderSize));
  store_u32(bytes_.data() + at + kFileHeaderSize, 0);
}

Status FlvWriter::write_tag(TagType type, std::uint32_t timestamp_ms, std::span<const std::uint8_t> body) {
  return write_tag(type, timestamp_ms, std::span<const std::span<const std::uint8_t>>(&body, 1));
}

Status FlvWriter::write_tag(TagType type, std::uint32_t timestamp_ms,
                            std::initializer_list<std::span<const std::uint8_t>> pieces) {
  return write_tag(type, timestamp_ms, std::span<const std::span<const std::uint8_t>>(pieces.begin(), pieces.size()));
}

Status FlvWriter::write_tag(TagType type, std::uint32_t timestamp_ms,
                            std::span<const std::span<const std::uint8_t>> pieces) {
  std::uint64_t size = 0;
  for (auto piece : pieces) size += piece.size();
  if (size > kMaxTagDataSize)
    return error(Errc::limit, "flv: {} tag of {} bytes, at most {} fit", tag_type_name(type), size, kMaxTagDataSize);
  TagHeader header;
  header.type = type;
  header.data_size = static_cast<std::uint32_t>(size);
  header.timestamp_ms = timestamp_ms;
  std::size_t at = bytes_.size();
  bytes_.reserve(at + kTagHeaderSize + size + kPreviousTagSizeBytes);
  bytes_.resize(at + kTagHeaderSize);
  WEIR_TRY(write_tag_header(header, std::span<std::uint8_t, kTagHeaderSize>(bytes_.data() + at, kTagHeaderSize)));
  for (auto piece : pieces) bytes_.insert(bytes_.end(), piece.begin(), piece.end());
  std::size_t pts_at = bytes_.size();
  bytes_.resize(pts_at + kPreviousTagSizeBytes);
  store_u32(bytes_.data() + pts_at, static_cast<std::uint32_t>(kTagHeaderSize + size));
  return ok();
}

std::vector<std::uint8_t> FlvWriter::take() noexcept {
  std::vector<std::uint8_t> out;
  out.swap(bytes_);
  return out;
}

}  // namespace weir::formats::flv
